//! `framering serve`: rings as MJPEG over HTTP (feature `jpeg`), for
//! browsers, OBS, VLC and ffmpeg.
//!
//! A short server on `std::net` (requests parsed by httparse), one thread
//! per connection, bounded by `--max-clients`. Each ring being watched has
//! one encoder thread, which
//! reads the newest frame, encodes it once and hands the same bytes to every
//! client; a client takes the newest JPEG whenever it is ready for one, so a
//! slow client skips frames and never holds back the others or makes the
//! server queue anything. A ring nobody watches has no thread, and its feed
//! is dropped. Requests must arrive whole within a few seconds and a client
//! that stops reading is dropped after `--write-timeout`, so idle or stalled
//! connections cannot pin threads; past `--max-clients`, a few threads of
//! their own answer 503 after reading the request (closing a socket with an
//! unread request resets the connection instead).
//!
//! A URL names a ring by its plain name, served from the default ring
//! directory, or by exactly a name given on the command line: never a path
//! of the client's choosing.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use framering::jpeg::Codec;
use framering::{Consumer, Error, FrameBuf, PixelFormat, ProducerState, RingName, admin, monotonic_ns};

use crate::Failure;

/// The largest request head read.
const MAX_HEAD: usize = 8192;
/// The most header lines a request may have.
const MAX_HEADERS: usize = 64;
/// How long a ring's encoder outlives its last watcher.
const IDLE_GRACE: Duration = Duration::from_secs(2);
/// The kernel's send buffer of a streaming client: what a client that
/// stopped reading can leave unsent before a write blocks and
/// `--write-timeout` starts to count (the kernel's own grows to megabytes,
/// which at a small picture's rate is minutes). Linux only: Windows sizes
/// its send buffers itself.
#[cfg(unix)]
const SEND_BUFFER: usize = 256 << 10;
/// Threads that answer 503 past `--max-clients`, and the connections they
/// may have waiting (more are closed unanswered).
const REFUSERS: usize = 4;
const REFUSALS_WAITING: usize = 512;
/// How long a refused client has to send its request.
const REFUSAL_READ: Duration = Duration::from_secs(1);

/// Options of `framering serve`.
pub(crate) struct ServeOptions {
    bind: SocketAddr,
    max_clients: usize,
    quality: u8,
    /// `Authorization` header value required, if any.
    auth: Option<String>,
    /// The whole request head must arrive within this (slow-loris clients
    /// are answered 400 and dropped).
    request_timeout: Duration,
    /// A write that makes no progress for this long drops the client.
    write_timeout: Duration,
    /// Whose rings are served (see `Consumer::with_owner`).
    owner: Option<u32>,
}

impl ServeOptions {
    pub(crate) fn new(a: crate::ServeArgs) -> Result<Self, Failure> {
        let auth = match (a.user, a.password) {
            (Some(u), Some(p)) if !u.contains(':') => Some(format!("Basic {}", base64(format!("{u}:{p}").as_bytes()))),
            (None, None) => None,
            _ => return Err(crate::usage("basic auth needs both --user (without ':') and --password")),
        };
        Ok(Self {
            bind: a.bind,
            max_clients: a.max_clients as usize,
            quality: a.jpeg_quality,
            auth,
            request_timeout: Duration::from_secs(a.request_timeout),
            write_timeout: Duration::from_secs(a.write_timeout),
            owner: a.owner.uid(),
        })
    }
}

/// Standard base64 (for the basic-auth header).
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ABC[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// The newest JPEG of a ring and what the page shows about it.
#[derive(Default)]
struct FeedState {
    /// JPEGs made (each shared by every client).
    seq: u64,
    jpeg: Option<Arc<Vec<u8>>>,
    /// "640x480 BGR24", for the page.
    size: String,
    fps: f64,
    latency_ms: f64,
    /// Clients watching; the encoder stops at 0.
    watchers: usize,
    running: bool,
    /// Why there is no picture, when there is none.
    problem: Option<String>,
}

#[derive(Default)]
struct Feed {
    state: Mutex<FeedState>,
    changed: Condvar,
}

impl Feed {
    fn lock(&self) -> MutexGuard<'_, FeedState> {
        // A panicking thread cannot leave the state half-updated in a way
        // that matters (plain fields): go on with it.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

struct Server {
    /// The rings served; empty: every ring in the default directory.
    rings: Vec<String>,
    /// The feeds of the rings being watched, by ring name as served (one
    /// spelling per ring, see [`served`]); an encoder that ends removes its
    /// feed.
    feeds: Mutex<HashMap<String, Arc<Feed>>>,
    connections: AtomicUsize,
    options: ServeOptions,
}

/// `framering serve`: runs until killed.
pub(crate) fn serve(o: ServeOptions, rings: Vec<String>) -> Result<(), Failure> {
    if let Some(bad) = rings.iter().find(|r| RingName::new(r).is_err()) {
        return Err(crate::usage(&format!("invalid ring name {bad:?}")));
    }
    let listener = TcpListener::bind(o.bind).map_err(|e| Failure(format!("cannot listen on {}: {e}", o.bind), 1))?;
    let addr = listener.local_addr().map_err(|e| Failure(e.to_string(), 1))?;
    eprintln!("framering serve: http://{addr}/ (rings at /NAME.mjpg and /NAME.jpg; Ctrl-C to stop)");
    if !addr.ip().is_loopback() && o.auth.is_none() {
        eprintln!("framering serve: warning: anyone who can reach {addr} sees the rings; consider --user/--password");
    }
    let server =
        Arc::new(Server { rings, feeds: Mutex::new(HashMap::new()), connections: AtomicUsize::new(0), options: o });
    let status = Arc::clone(&server);
    let _ = std::thread::Builder::new().name("status".into()).spawn(move || report(&status));
    let refusals = refusers();
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        // Relaxed: a counter only bounds the threads; no data rides on it.
        if server.connections.fetch_add(1, Ordering::Relaxed) >= server.options.max_clients {
            server.connections.fetch_sub(1, Ordering::Relaxed);
            // With the refusers' queue full too, it is closed unanswered.
            let _ = refusals.try_send(stream);
            continue;
        }
        let mine = Arc::clone(&server);
        let spawned = std::thread::Builder::new().name("client".into()).spawn(move || {
            let _ = handle(&mine, stream);
            mine.connections.fetch_sub(1, Ordering::Relaxed);
        });
        if spawned.is_err() {
            server.connections.fetch_sub(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Starts the threads that answer clients past `--max-clients` with 503;
/// returns where to send them.
fn refusers() -> SyncSender<TcpStream> {
    let (send, receive) = std::sync::mpsc::sync_channel(REFUSALS_WAITING);
    let receive = Arc::new(Mutex::new(receive));
    for _ in 0..REFUSERS {
        let receive = Arc::clone(&receive);
        let _ = std::thread::Builder::new().name("refuser".into()).spawn(move || refuse_all(&receive));
    }
    send
}

fn refuse_all(receive: &Mutex<Receiver<TcpStream>>) {
    loop {
        let next = receive.lock().map(|r| r.recv());
        let Ok(Ok(mut stream)) = next else { return };
        // Read the request first: a socket closed with unread bytes sends a
        // reset, which the client sees instead of the answer.
        let _ = read_request(&mut stream, REFUSAL_READ);
        let _ = stream.set_write_timeout(Some(REFUSAL_READ));
        let _ = respond(&mut stream, "503 Service Unavailable", "text/plain", b"too many clients\n");
        let _ = stream.shutdown(Shutdown::Write);
    }
}

/// A status line a second on stdout: connections and the rings being
/// watched (one line updated in place on a terminal; a line each when piped).
fn report(server: &Server) {
    let mut live = crate::output::LiveLine::new(false);
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let feeds: Vec<String> = server
            .feeds
            .lock()
            .map(|feeds| {
                let mut watched: Vec<String> = feeds
                    .iter()
                    .filter_map(|(name, feed)| {
                        let s = feed.lock();
                        (s.watchers > 0).then(|| format!("{name} ({} watching, {:.1} fps)", s.watchers, s.fps))
                    })
                    .collect();
                watched.sort();
                watched
            })
            .unwrap_or_default();
        let kept = server.feeds.lock().map_or(0, |feeds| feeds.len());
        // Relaxed: a counter read for display.
        let clients = server.connections.load(Ordering::Relaxed);
        let watched = if feeds.is_empty() { "no ring watched".to_owned() } else { feeds.join(", ") };
        live.status(&format!("serve: {clients} connections, {kept} feeds; {watched}"));
    }
}

fn respond(stream: &mut TcpStream, status: &str, kind: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)
}

/// What is used of a request: its method, its target and its
/// `Authorization` header.
struct Request {
    method: String,
    target: String,
    authorization: Option<String>,
}

/// Why a request was not read.
enum Unread {
    /// Malformed, too large, or not sent whole in time: answered 400.
    Bad,
    /// More headers than [`MAX_HEADERS`]: answered 431.
    TooManyHeaders,
}

/// Reads and parses the request head (bounded in size and time), with
/// httparse: the bytes are read until it finds the head complete.
fn read_request(stream: &mut TcpStream, timeout: Duration) -> Result<Request, Unread> {
    let deadline = Instant::now() + timeout;
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()).ok_or(Unread::Bad)?;
        stream.set_read_timeout(Some(left)).map_err(|_| Unread::Bad)?;
        let n = stream.read(&mut chunk).ok().filter(|&n| n > 0).ok_or(Unread::Bad)?;
        head.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {
                let authorization = request
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("authorization"))
                    .and_then(|h| std::str::from_utf8(h.value).ok())
                    .map(|v| v.trim().to_owned());
                return Ok(Request {
                    method: request.method.unwrap_or_default().to_owned(),
                    target: request.path.unwrap_or_default().to_owned(),
                    authorization,
                });
            }
            Ok(httparse::Status::Partial) if head.len() <= MAX_HEAD => {}
            Ok(httparse::Status::Partial) => return Err(Unread::Bad),
            Err(httparse::Error::TooManyHeaders) => return Err(Unread::TooManyHeaders),
            Err(_) => return Err(Unread::Bad),
        }
    }
}

/// Whether a URL's ring name is served: exactly a name given
/// on the command line, or (none given) a plain ring name, which lives in
/// the default ring directory. A path (`//tmp/x`, `/dev/shm/../x`) is never
/// one a client may choose.
fn served(server: &Server, name: &str) -> bool {
    if server.rings.is_empty() {
        !name.contains('/') && RingName::new(name).is_ok()
    } else {
        server.rings.iter().any(|r| r == name)
    }
}

fn handle(server: &Arc<Server>, mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_write_timeout(Some(server.options.write_timeout))?;
    let request = match read_request(&mut stream, server.options.request_timeout) {
        Ok(request) => request,
        Err(Unread::Bad) => return respond(&mut stream, "400 Bad Request", "text/plain", b"bad or slow request\n"),
        Err(Unread::TooManyHeaders) => {
            return respond(&mut stream, "431 Request Header Fields Too Large", "text/plain", b"too many headers\n");
        }
    };
    if request.method != "GET" {
        return respond(&mut stream, "405 Method Not Allowed", "text/plain", b"GET only\n");
    }
    if let Some(want) = &server.options.auth
        && request.authorization.as_deref() != Some(want.as_str())
    {
        let head = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"framering\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        return stream.write_all(head.as_bytes());
    }
    let path = request.target.as_str();
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    if path == "/" {
        return respond(&mut stream, "200 OK", "text/html; charset=utf-8", page(&server.rings).as_bytes());
    }
    let Some((name, kind)) = path.strip_prefix('/').and_then(|p| p.rsplit_once('.')) else {
        return respond(&mut stream, "404 Not Found", "text/plain", b"not found\n");
    };
    if !served(server, name) || !matches!(kind, "mjpg" | "jpg" | "json") {
        return respond(&mut stream, "404 Not Found", "text/plain", b"not found\n");
    }
    if admin::status(name).is_err() && !server.feeds.lock().is_ok_and(|f| f.contains_key(name)) {
        return respond(&mut stream, "404 Not Found", "text/plain", format!("no ring named {name:?}\n").as_bytes());
    }
    if kind == "json" {
        return respond(&mut stream, "200 OK", "application/json", stats(server, name).as_bytes());
    }
    let feed = watch(server, name);
    // `?next`: the frame after the current one (the page's reload loop).
    let next = query.split('&').any(|q| q == "next");
    let result = if kind == "jpg" {
        still(&feed, next, &mut stream)
    } else {
        #[cfg(unix)]
        let _ = rustix::net::sockopt::set_socket_send_buffer_size(&stream, SEND_BUFFER);
        stream_mjpeg(&feed, &mut stream)
    };
    feed.lock().watchers -= 1;
    result
}

/// The ring's feed, its encoder started if it is not running.
fn watch(server: &Arc<Server>, name: &str) -> Arc<Feed> {
    // The map stays locked while the watcher is counted, so an encoder
    // ending (which removes an unwatched feed under the same lock) cannot
    // drop a feed someone is starting to watch.
    let mut feeds = server.feeds.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let feed = Arc::clone(feeds.entry(name.to_owned()).or_default());
    let mut state = feed.lock();
    state.watchers += 1;
    if !state.running {
        state.running = true;
        let (feed, server, name) = (Arc::clone(&feed), Arc::clone(server), name.to_owned());
        if std::thread::Builder::new().name("encoder".into()).spawn(move || encode(&server, &feed, &name)).is_err() {
            state.running = false;
            state.problem = Some("cannot start an encoder thread".into());
        }
    }
    drop((state, feeds));
    feed
}

/// Ends an encoder whose feed nobody watches: removes the feed (if it is
/// still the ring's) and says so. `false`: someone watches it again.
fn retire(server: &Server, feed: &Arc<Feed>, name: &str) -> bool {
    let mut feeds = server.feeds.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut state = feed.lock();
    if state.watchers > 0 {
        return false;
    }
    state.running = false;
    if feeds.get(name).is_some_and(|f| Arc::ptr_eq(f, feed)) {
        feeds.remove(name);
    }
    true
}

/// The encoder: newest frame → one JPEG for every client, while anyone
/// watches.
fn encode(server: &Server, feed: &Arc<Feed>, name: &str) {
    let (mut buf, mut codec, quality) = (FrameBuf::new(), Codec::new(), server.options.quality);
    let mut rx = match Consumer::new(name).and_then(|rx| crate::commands::owned(rx, server.options.owner)) {
        Ok(rx) => rx,
        Err(e) => {
            feed.lock().problem = Some(e.to_string());
            // The problem stays on the page while anyone watches.
            while !retire(server, feed, name) {
                std::thread::sleep(IDLE_GRACE);
            }
            return;
        }
    };
    let mut window = (Instant::now(), 0u32);
    // Nobody watching since then: the thread ends after IDLE_GRACE (a page
    // fetching one still after another leaves gaps between them).
    let mut unwatched = None::<Instant>;
    loop {
        if feed.lock().watchers > 0 {
            unwatched = None;
        } else if unwatched.get_or_insert_with(Instant::now).elapsed() >= IDLE_GRACE && retire(server, feed, name) {
            return;
        }
        let meta = match rx.wait_latest(&mut buf, Duration::from_millis(200)) {
            Ok(meta) => meta,
            Err(Error::Timeout) => continue,
            Err(e) => {
                feed.lock().problem = Some(e.to_string());
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        let jpeg = match meta.info.format {
            PixelFormat::Mjpeg => Ok(buf.as_slice().to_vec()),
            _ => codec.encode(&meta.info, &buf, quality).map(<[u8]>::to_vec),
        };
        let mut state = feed.lock();
        match jpeg {
            Ok(jpeg) => {
                state.jpeg = Some(Arc::new(jpeg));
                state.seq += 1;
                state.problem = None;
            }
            Err(e) => state.problem = Some(format!("frame {}: {e}", meta.frame)),
        }
        window.1 += 1;
        if window.0.elapsed() >= Duration::from_secs(1) {
            state.fps = f64::from(window.1) / window.0.elapsed().as_secs_f64();
            window = (Instant::now(), 0);
        }
        let born = meta.info.capture_ns.unwrap_or(meta.publish_ns);
        state.latency_ms = monotonic_ns().saturating_sub(born) as f64 / 1e6;
        state.size = format!("{}x{} {}", meta.info.width, meta.info.height, meta.info.format);
        drop(state);
        feed.changed.notify_all();
    }
}

/// True if the client closed its end (checked while there is nothing to
/// send it, so a gone client does not keep its thread).
fn peer_closed(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    let _ = stream.set_nonblocking(true);
    let closed = matches!(stream.peek(&mut byte), Ok(0));
    let _ = stream.set_nonblocking(false);
    closed
}

/// Waits for a JPEG newer than `seen` (up to `limit`).
fn next_jpeg(feed: &Feed, seen: u64, limit: Duration) -> Option<(u64, Arc<Vec<u8>>)> {
    let state = feed.lock();
    let (state, _) = feed
        .changed
        .wait_timeout_while(state, limit, |s| s.seq <= seen || s.jpeg.is_none())
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    state.jpeg.clone().filter(|_| state.seq > seen).map(|j| (state.seq, j))
}

fn still(feed: &Feed, next: bool, stream: &mut TcpStream) -> std::io::Result<()> {
    let (seq, current) = {
        let state = feed.lock();
        (state.seq, state.jpeg.clone())
    };
    let current = current.filter(|_| !next);
    match current.or_else(|| next_jpeg(feed, if next { seq } else { 0 }, Duration::from_secs(5)).map(|(_, j)| j)) {
        Some(jpeg) => respond(stream, "200 OK", "image/jpeg", &jpeg),
        None => respond(stream, "503 Service Unavailable", "text/plain", b"no frame yet\n"),
    }
}

fn stream_mjpeg(feed: &Feed, stream: &mut TcpStream) -> std::io::Result<()> {
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=framering\r\n\
          Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
    )?;
    let mut seen = 0;
    loop {
        // While no frame comes, look for a client that left (writes find
        // it otherwise).
        let Some((seq, jpeg)) = next_jpeg(feed, seen, Duration::from_secs(1)) else {
            if peer_closed(stream) {
                return Ok(());
            }
            continue;
        };
        seen = seq;
        let part = format!("--framering\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n", jpeg.len());
        stream.write_all(part.as_bytes())?;
        stream.write_all(&jpeg)?;
        stream.write_all(b"\r\n")?;
    }
}

/// `/NAME.json`: what the page shows, and how many JPEGs the ring's feed
/// has made since it started (one per frame, whatever the clients).
fn stats(server: &Server, name: &str) -> String {
    let feed = server.feeds.lock().ok().and_then(|f| f.get(name).cloned());
    let (size, fps, latency, encoded, problem) = feed.map_or((String::new(), 0.0, 0.0, 0, None), |f| {
        let s = f.lock();
        (s.size.clone(), s.fps, s.latency_ms, s.seq, s.problem.clone())
    });
    use crate::output::round;
    crate::output::to_json(&serde_json::json!({
        "name": name,
        "size": size,
        "fps": round(fps, 1),
        "latency_ms": round(latency, 1),
        "encoded": encoded,
        "problem": problem,
    }))
}

/// `/`: every ring with a live picture and its numbers. Each picture is a
/// canvas showing stills fetched one after another (`?next`: the newest
/// frame, at the browser's own pace) rather than an `<img>` of the endless
/// MJPEG response: browsers open at most six connections to a server, which
/// six streams would use up, and headless Chrome never paints such an image.
fn page(only: &[String]) -> String {
    let rings = if only.is_empty() { admin::list().unwrap_or_default() } else { only.to_vec() };
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=utf-8><title>framering</title><style>\
         body{font-family:sans-serif;background:#222;color:#eee;margin:16px}\
         figure{display:inline-block;margin:8px}canvas{background:#000;display:block}\
         figcaption{font-size:13px;padding:4px 0}</style></head><body><h1>framering</h1>",
    );
    let mut shown = 0;
    for name in &rings {
        let n = escape(name);
        match admin::status(name).map(|s| s.producer) {
            Ok(ProducerState::Alive) => {
                shown += 1;
                html.push_str(&format!(
                    "<figure><canvas class=live data-ring=\"{n}\" width=320 height=180></canvas><figcaption><b>{n}</b> \
                     <span id=\"s-{n}\"></span> <a href=\"/{n}.mjpg\">MJPEG</a></figcaption></figure>"
                ));
            }
            Ok(state) => html.push_str(&format!("<p>{n}: producer {}</p>", crate::output::state_word(state))),
            Err(e) => html.push_str(&format!("<p>{n}: {}</p>", escape(&e.to_string()))),
        }
    }
    if shown == 0 {
        html.push_str("<p>No ring with a live producer on this machine.</p>");
    }
    html.push_str(
        "<script>\
         for(const c of document.querySelectorAll('canvas.live')){let n=0;const g=c.getContext('2d');\
         const next=()=>{const im=new Image();im.onload=()=>{if(c.width!=im.naturalWidth||c.height!=im.naturalHeight)\
         {c.width=im.naturalWidth;c.height=im.naturalHeight}g.drawImage(im,0,0);next()};\
         im.onerror=()=>setTimeout(next,1000);im.src='/'+c.dataset.ring+'.jpg?next&n='+(n++)};next()}\
         setInterval(()=>{for(const s of document.querySelectorAll('span[id^=s-]')){\
         fetch('/'+s.id.slice(2)+'.json').then(r=>r.json()).then(j=>{s.textContent=j.problem?j.problem:\
         `${j.size} ${j.fps.toFixed(1)} fps, latency ${j.latency_ms.toFixed(1)} ms`}).catch(()=>{})}},1000)</script>\
         </body></html>",
    );
    html
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

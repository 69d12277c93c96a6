//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

#[cfg(feature = "redis")]
pub mod redis_server;
// Also used by the latency bench.
#[cfg(target_os = "linux")]
mod namespace;
mod skip;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use framering::{FrameBuf, FrameInfo, FrameMeta, PixelFormat};

/// A ring name no other test (or concurrent test run) uses.
pub fn unique_name(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("t-{tag}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The path of a ring's object on Linux.
#[cfg(target_os = "linux")]
pub fn shm_file(name: &str) -> String {
    format!("/dev/shm/framering.{name}")
}

/// True if ring `name` is in the default directory's listing (`ls`).
pub fn ring_listed(name: &str) -> bool {
    framering::admin::list().unwrap().iter().any(|n| n == name)
}

/// Removes a ring's object left behind by a killed producer.
#[cfg(target_os = "linux")]
pub fn remove_ring(name: &str) {
    let _ = std::fs::remove_file(shm_file(name));
}

/// Torn-frame detector: frame `n` is GRAY8, 64 pixels wide and 8..=39 rows
/// high (so the length changes from frame to frame), and every 8-byte word
/// of its payload is derived from `n` and the word's index.
pub mod pattern {
    use super::*;

    pub const WIDTH: u32 = 64;
    pub const MAX_BYTES: usize = 64 * 39;

    pub fn info(n: u64) -> FrameInfo {
        FrameInfo::new(WIDTH, 8 + (n % 32) as u32, PixelFormat::Gray8)
    }

    fn word(n: u64, k: usize) -> u64 {
        n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (k as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93)
    }

    pub fn fill(n: u64, out: &mut [u8]) {
        for (k, chunk) in out.chunks_exact_mut(8).enumerate() {
            chunk.copy_from_slice(&word(n, k).to_le_bytes());
        }
    }

    /// Publishes the producer's next frame number as a pattern frame.
    pub fn publish_next(tx: &mut framering::Producer) -> u64 {
        let n = tx.next_frame();
        let mut loan = tx.loan(info(n)).unwrap();
        fill(n, loan.pixels_mut());
        loan.commit().unwrap()
    }

    pub fn bytes(n: u64) -> Vec<u8> {
        let mut v = vec![0; info(n).payload_len().unwrap().unwrap()];
        fill(n, &mut v);
        v
    }

    /// True if the metadata and every byte of the payload belong to one frame.
    pub fn intact(meta: &FrameMeta, buf: &FrameBuf) -> bool {
        let want = info(meta.frame);
        meta.info.width == want.width
            && meta.info.height == want.height
            && meta.info.format == want.format
            && buf.len() == meta.len
            && Some(buf.len()) == want.payload_len().unwrap()
            && buf.chunks_exact(8).enumerate().all(|(k, c)| c == word(meta.frame, k).to_le_bytes())
    }
}

/// Re-runs this test binary as a child process executing the `#[ignore]`d
/// test `entry`, with `role` and extra variables in its environment.
///
/// The child is killed when the thread that spawned it ends (the test is
/// over, passed or failed), so no child outlives its test.
/// (On Windows the child is only killed by the test that spawned it.)
pub fn spawn_child(entry: &str, role: &str, env: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    #[cfg(target_os = "linux")]
    // SAFETY: the closure runs in the forked child before exec and only
    // makes one system call (prctl), which is async-signal-safe.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            Ok(())
        });
    }
    cmd.args([entry, "--exact", "--ignored", "--nocapture", "--test-threads=1", "-q"])
        .env("FRAMERING_TEST_ROLE", role)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn child test process")
}

/// Reads the child's stdout until a line starting with `prefix`; returns it.
pub fn read_line_starting(out: &mut BufReader<ChildStdout>, prefix: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        if out.read_line(&mut line).expect("read child stdout") == 0 {
            panic!("child exited before printing {prefix:?}");
        }
        if line.starts_with(prefix) {
            return line.trim_end().to_owned();
        }
    }
}

/// Parses `key=value` pairs from a result line.
pub fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
        .parse()
        .unwrap()
}

/// In a child process: a flag that becomes true once the parent closes
/// the child's stdin (how parents tell flooding producers to stop).
pub fn stop_on_stdin_eof() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        flag.store(true, Ordering::Relaxed);
    });
    stop
}

/// Prints one line to stdout and flushes it (child processes report to
/// their parent this way).
///
/// If the parent is gone (its test failed and closed the pipe) the child
/// exits quietly instead of panicking with "Broken pipe".
pub fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(1);
    }
}

/// Spawns this test binary as child `role` on ring `name` (see
/// [`spawn_child`]) and returns it with a line reader over its stdout.
pub fn spawn_role(entry: &str, role: &str, name: &str, extra: &[(&str, String)]) -> (Child, BufReader<ChildStdout>) {
    let mut env = vec![("RING", name.to_owned())];
    env.extend(extra.iter().cloned());
    let mut child = spawn_child(entry, role, &env);
    let out = BufReader::new(child.stdout.take().unwrap());
    (child, out)
}

/// Running checks over the frames one reader returned: torn frames and
/// frames out of order (next mode: `frame = last + 1 + dropped`; latest
/// mode: numbers only grow).
#[derive(Debug, Default)]
pub struct Tally {
    pub reads: u64,
    pub torn: u64,
    pub order_errors: u64,
    pub last: u64,
}

impl Tally {
    /// Counts one read of the ring-test pattern.
    pub fn check(&mut self, meta: &FrameMeta, buf: &FrameBuf, next: bool) {
        self.record(meta, pattern::intact(meta, buf), next);
    }

    /// Counts one read whose payload was (or was not) intact.
    pub fn record(&mut self, meta: &FrameMeta, intact: bool, next: bool) {
        self.reads += 1;
        self.torn += u64::from(!intact);
        let in_order =
            if next && self.last != 0 { meta.frame == self.last + 1 + meta.dropped } else { meta.frame > self.last };
        self.order_errors += u64::from(!in_order);
        self.last = meta.frame;
    }
}

/// In a child process spawned by [`spawn_role`]: its (role, ring name).
/// `None` when the entry point is run by hand (e.g. `--ignored`), where it
/// has nothing to do.
pub fn child_role() -> Option<(String, String)> {
    let role = std::env::var("FRAMERING_TEST_ROLE").ok()?;
    Some((role, std::env::var("RING").expect("RING is set for every child")))
}

/// Path of an example binary of the profile these tests were built with;
/// builds the examples if `cargo test` was filtered to this target only.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap().to_owned();
    let path = profile_dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        let release = profile_dir.ends_with("release");
        let mut cargo = Command::new(env!("CARGO"));
        cargo.args(["build", "--examples", "--manifest-path", concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")]);
        if release {
            cargo.arg("--release");
        }
        assert!(cargo.status().unwrap().success(), "building the examples failed");
    }
    path
}

/// The producer example on ring `ring`, sending the 320x240 test pattern,
/// with options `extra`; its stderr (the status line) piped.
pub fn producer_example(ring: &str, extra: &[&str]) -> Child {
    Command::new(example("producer"))
        .args(["--test-pattern", "--ring", ring, "--width", "320", "--height", "240"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The consumer example, headless, on ring `ring` with options `extra`;
/// its stdout (the summary) and stderr piped.
pub fn consumer_example(ring: &str, extra: &[&str]) -> Child {
    Command::new(example("consumer"))
        .args(["--headless", "--ring", ring])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs a fast consumer example (100 frames) and a slow one (15 frames, 50
/// ms each) on ring `ring`, whose producer example runs at 200 fps, and
/// checks that both verified every frame they got, none torn, and that the
/// slow one skipped frames.
pub fn check_fast_and_slow_consumers(ring: &str) {
    let fast = consumer_example(ring, &["--frames", "100"]);
    let slow = consumer_example(ring, &["--frames", "15", "--slow-ms", "50"]);
    let limit = Duration::from_secs(60);
    let (fast, slow) = (summary(&finish(fast, limit)), summary(&finish(slow, limit)));
    eprintln!("fast: {fast}\nslow: {slow}");
    for line in [&fast, &slow] {
        assert_eq!(field(line, "torn"), 0, "{line}");
    }
    assert_eq!((field(&fast, "frames"), field(&fast, "verified"), field(&fast, "unverified")), (100, 100, 0));
    assert_eq!((field(&slow, "frames"), field(&slow, "verified")), (15, 15));
    assert!(field(&slow, "dropped") > 0, "the slow consumer should have skipped frames: {slow}");
}

/// Waits for the child, killing it (and failing) after `limit`.
pub fn finish(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("child did not finish within {limit:?}: {:?}", child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A child's stderr, read on a thread as it comes, so a test can wait for
/// a message before it goes on (never for a fixed time).
pub struct Stderr {
    text: std::sync::Arc<(std::sync::Mutex<String>, std::sync::Condvar)>,
    reader: std::thread::JoinHandle<()>,
}

impl Stderr {
    /// Takes over the child's piped stderr.
    pub fn take(child: &mut Child) -> Self {
        let text = std::sync::Arc::new((std::sync::Mutex::new(String::new()), std::sync::Condvar::new()));
        let mut lines = BufReader::new(child.stderr.take().expect("stderr is piped"));
        let shared = text.clone();
        let reader = std::thread::spawn(move || {
            let mut line = String::new();
            while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                shared.0.lock().unwrap().push_str(&std::mem::take(&mut line));
                shared.1.notify_all();
            }
        });
        Self { text, reader }
    }

    /// Waits until the child has written `what`; fails after `limit`,
    /// showing what it wrote.
    pub fn wait_for(&self, what: &str, limit: Duration) {
        let (text, grown) = &*self.text;
        let (text, waited) = grown.wait_timeout_while(text.lock().unwrap(), limit, |t| !t.contains(what)).unwrap();
        assert!(!waited.timed_out(), "the child did not write {what:?} within {limit:?}; it wrote {:?}", *text);
    }

    /// All the child wrote, once it has closed its stderr (exited).
    pub fn finish(self) -> String {
        self.reader.join().unwrap();
        std::mem::take(&mut *self.text.0.lock().unwrap())
    }
}

pub fn summary(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "consumer failed: {stdout} {}", String::from_utf8_lossy(&out.stderr));
    stdout.lines().find(|l| l.starts_with("summary ")).unwrap_or_else(|| panic!("no summary in {stdout:?}")).to_owned()
}

#[cfg(target_os = "linux")]
pub fn interrupt(child: &Child) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
}

#[cfg(target_os = "linux")]
#[allow(unused_imports)] // each test binary uses a different subset
pub use namespace::{private_huge_dir, private_shm};
#[allow(unused_imports)] // each test binary uses a different subset
pub use skip::skip;

#[cfg(target_os = "linux")]
/// True if a thread of process `pid` sleeps in a futex whose address lies
/// in its mapping of `path`: its `wchan` names the futex wait and the first
/// argument of the system call it is blocked in (`/proc/PID/task/TID/syscall`)
/// is inside the mapping.
pub fn waits_on(pid: u32, path: &str) -> bool {
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else { return false };
    let ranges: Vec<(u64, u64)> = maps
        .lines()
        .filter(|l| l.split_whitespace().nth(5) == Some(path))
        .filter_map(|l| {
            let (start, end) = l.split_whitespace().next()?.split_once('-')?;
            Some((hex(start)?, hex(end)?))
        })
        .collect();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
    tasks.filter_map(Result::ok).any(|task| {
        let read = |file| std::fs::read_to_string(task.path().join(file)).unwrap_or_default();
        let address = read("syscall").split_whitespace().nth(1).and_then(hex);
        read("wchan").contains("futex") && address.is_some_and(|a| ranges.iter().any(|&(s, e)| (s..e).contains(&a)))
    })
}

#[cfg(target_os = "linux")]
/// Waits (boundedly) until a thread of this process sleeps in a futex on
/// ring `name`'s notify word: a reader blocked waiting for a frame, so what
/// the test does next reaches it through a wake-up, not a first look.
pub fn wait_until_asleep_on(name: &str) {
    let (me, path) = (std::process::id(), shm_file(name));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !waits_on(me, &path) {
        assert!(Instant::now() < deadline, "no reader of {name} went to sleep waiting for a frame");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(windows)]
/// Waits (boundedly) until a reader of ring `name` sleeps waiting for a
/// frame: until the current instance's sleeper count (`docs/FORMAT.md` §9)
/// is non-zero, so what the test does next reaches it through a wake-up,
/// not a first look.
pub fn wait_until_asleep_on(name: &str) {
    use windows_sys::Win32::Foundation::CloseHandle;
    use windows_sys::Win32::System::Memory::{FILE_MAP_READ, MapViewOfFile, OpenFileMappingW, UnmapViewOfFile};
    let wide = |s: String| s.encode_utf16().chain(Some(0)).collect::<Vec<u16>>();
    // Reads the u64 at `offset` (or u32 if `small`) of section `object`.
    let read = |object: String, offset: usize| -> Option<u64> {
        let object = wide(object);
        // SAFETY: a NUL-terminated name; the view, if made, is at least a
        // page long, read through a volatile load, then unmapped, and the
        // handle closed.
        unsafe {
            let section = OpenFileMappingW(FILE_MAP_READ, 0, object.as_ptr());
            if section.is_null() {
                return None;
            }
            let view = MapViewOfFile(section, FILE_MAP_READ, 0, 0, 0);
            CloseHandle(section);
            if view.Value.is_null() {
                return None;
            }
            let value = view.Value.cast::<u8>().add(offset).cast::<u64>().read_volatile();
            UnmapViewOfFile(view);
            Some(value)
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let instance = read(format!("Local\\framering.{name}"), 8);
        let sleepers = instance.and_then(|i| read(format!("Local\\framering.{name}#{i}.wake"), 0));
        if sleepers.is_some_and(|n| n as u32 > 0) {
            return;
        }
        assert!(Instant::now() < deadline, "no reader of {name} went to sleep waiting for a frame");
        std::thread::sleep(Duration::from_millis(1));
    }
}

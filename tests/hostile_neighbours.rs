//! Rings against hostile or careless neighbours in the shared-memory
//! directory: other users' objects, symbolic links, FIFOs, readers' locks,
//! half-made rings, and `rm`/`clean` racing producers.
//!
//! Every test that plants something runs in a private mount namespace with
//! its own tmpfs on /dev/shm (`common::private_shm`; root only, skipped with
//! a printed reason otherwise), so it never touches anyone else's rings.
//! Child processes are this test binary re-run on the ignored test `child`.
#![cfg(target_os = "linux")]

mod common;

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use common::{pattern, private_shm, read_line_starting, say, shm_file, spawn_role, unique_name};
use framering::{Consumer, Error, FrameBuf, LayoutError, ObjectKind, Producer, ProducerState, RingConfig, admin};

const ENTRY: &str = "child";
const LONG: Duration = Duration::from_secs(10);
/// A user id nobody in these tests runs as (the objects' foreign owner).
const OTHER_UID: u32 = 65534;
/// The uid a non-root producer runs as.
const USER_UID: u32 = 1000;

fn config() -> RingConfig {
    RingConfig::new(3, pattern::MAX_BYTES)
}

#[test]
#[ignore = "entry point of the child processes the other tests spawn"]
fn child() {
    let Some((role, name)) = common::child_role() else { return };
    match role.as_str() {
        // Creates the ring, publishes one frame and exits without closing:
        // a dead producer's ring (state live, no lock).
        "die" => {
            let mut tx = Producer::create(&name, config()).unwrap();
            pattern::publish_next(&mut tx);
            say("READY");
            std::process::exit(0);
        }
        // Owns the ring, with one frame published, until killed.
        "hold" => {
            let mut tx = Producer::create(&name, config()).unwrap();
            pattern::publish_next(&mut tx);
            say("READY");
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        // Tries to create the ring and says how it went.
        "create" => match Producer::create(&name, config()) {
            Ok(_) => say("CREATE ok"),
            Err(e) => say(&format!("CREATE {e:?}")),
        },
        other => panic!("unknown role {other}"),
    }
}

/// Leaves a dead producer's ring `name` behind (created by a child that
/// exited without closing it).
fn leave_dead_ring(name: &str) {
    let (mut child, mut out) = spawn_role(ENTRY, "die", name, &[]);
    read_line_starting(&mut out, "READY");
    assert!(child.wait().unwrap().success());
    assert!(Path::new(&shm_file(name)).exists());
}

/// Runs `f` on another thread and fails the test if it has not returned
/// within `LONG`: for calls that used to block forever.
fn within_deadline<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(LONG).unwrap_or_else(|_| panic!("{what} blocked for {LONG:?}"))
}

fn chown(path: &str, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
}

fn chmod(path: &str, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn ring_identity(name: &str) -> (u64, u64) {
    let m = std::fs::symlink_metadata(shm_file(name)).unwrap();
    (m.dev(), m.ino())
}

/// Sets an object's modification time `secs` seconds into the past.
fn age(path: &str, secs: u64) {
    let then = std::time::SystemTime::now() - Duration::from_secs(secs);
    std::fs::File::options().write(true).open(path).unwrap().set_modified(then).unwrap();
}

fn cli(args: &[&str]) -> std::process::Output {
    let child = Command::new(env!("CARGO_BIN_EXE_framering"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    common::finish(child, LONG)
}

#[test]
fn remove_never_deletes_a_ring_a_producer_is_starting_on() {
    // Defect: `remove` probed the lock and unlinked in two steps, so a
    // producer that created or took over the name in between published
    // nameless; and a probe between a producer's create and its lock made
    // that producer fail with `ProducerExists { pid: 0 }`.
    if !private_shm() {
        return;
    }
    const STARTS: u64 = 400;
    let name = unique_name("rm-race");
    let done = Arc::new(AtomicBool::new(false));
    let remover = {
        let (name, done) = (name.clone(), done.clone());
        std::thread::spawn(move || {
            let mut removed = 0u64;
            while !done.load(Ordering::Relaxed) {
                match admin::remove(&name, false) {
                    Ok(()) => removed += 1,
                    Err(Error::NotFound { .. } | Error::ProducerExists { .. }) => {}
                    Err(e) => panic!("remove: {e}"),
                }
            }
            removed
        })
    };
    let mut buf = FrameBuf::new();
    for i in 1..=STARTS {
        let mut tx = Producer::create(&name, config()).unwrap_or_else(|e| panic!("start {i}: {e:?}"));
        // Whatever the remover did, a live producer's ring keeps its name:
        // a new consumer finds it and reads its frame.
        let n = pattern::publish_next(&mut tx);
        let mut rx = Consumer::open(&name).unwrap_or_else(|e| panic!("start {i}: the live ring is gone: {e:?}"));
        let meta = rx.wait_latest(&mut buf, LONG).unwrap();
        assert_eq!(meta.frame, n, "start {i}: another object holds the name");
        assert_eq!(rx.producer_state().unwrap(), ProducerState::Alive);
        // Closing removes the name; the next start creates it afresh while
        // the remover keeps probing and removing.
        drop(rx);
        tx.close().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let removed = remover.join().unwrap();
    eprintln!("{STARTS} producer starts raced {removed} removals");
}

#[test]
fn takeover_only_of_own_objects_with_the_configured_mode() {
    // Defect: a stale ring owned by another user (who pre-created it or left
    // it behind) was taken over in place and stayed theirs, so they could
    // read the new producer's frames, forge frames and truncate it.
    if !private_shm() {
        return;
    }
    let name = unique_name("foreign");
    leave_dead_ring(&name);
    let path = shm_file(&name);
    chown(&path, OTHER_UID);
    chmod(&path, 0o666);
    let before = ring_identity(&name);
    // Root may replace it: the ring is then a new object, root's, mode 0600.
    let tx = Producer::create(&name, config()).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o600), "the ring kept its foreign owner or mode");
    assert_ne!(ring_identity(&name), before);
    assert_eq!(tx.generation(), 1, "a foreign object was taken over in place");
    drop(tx);

    // A user who may not replace another user's object gets a typed error
    // naming what is there and who owns it (the directory is sticky).
    leave_dead_ring(&name);
    chown(&path, OTHER_UID);
    chmod(&path, 0o666);
    let out = Command::new(std::env::current_exe().unwrap())
        .args([ENTRY, "--exact", "--ignored", "--nocapture", "-q"])
        .env("FRAMERING_TEST_ROLE", "create")
        .env("RING", &name)
        .uid(USER_UID)
        .gid(USER_UID)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("CREATE ")).unwrap_or(&text);
    assert!(line.starts_with("CREATE Occupied") && line.contains(&format!("uid: {OTHER_UID}")), "{line}");
    assert_eq!(std::fs::metadata(&path).unwrap().uid(), OTHER_UID);

    // The same producer's own ring with another mode is replaced, not
    // re-moded in place (an old reader could still hold it open).
    let own = unique_name("own-mode");
    leave_dead_ring(&own);
    chmod(&shm_file(&own), 0o644);
    let before = ring_identity(&own);
    let tx = Producer::create(&own, config()).unwrap();
    assert_ne!(ring_identity(&own), before);
    assert_eq!(std::fs::metadata(shm_file(&own)).unwrap().mode() & 0o7777, 0o600);
    drop(tx);
}

#[test]
fn symbolic_links_at_a_ring_name_are_never_followed() {
    // Defect: a link at the ring's name was followed: a producer took over a
    // regular file elsewhere through it and rewrote it, and a link from ring
    // `a` to ring `b`'s dead object made `a`'s producer feed `b`'s consumers.
    if !private_shm() {
        return;
    }
    // A link to a file that is not a ring.
    let victim = "/dev/shm/victim-file";
    std::fs::write(victim, vec![0x55; 100_000]).unwrap();
    let a = unique_name("link-a");
    std::os::unix::fs::symlink(victim, shm_file(&a)).unwrap();
    match Consumer::open(&a) {
        Err(Error::Occupied { occupant, .. }) => assert_eq!(occupant.kind, ObjectKind::Symlink),
        other => panic!("a consumer followed the link: {other:?}"),
    }
    let tx = Producer::create(&a, config()).unwrap();
    assert!(std::fs::read(victim).unwrap().iter().all(|&b| b == 0x55), "the link's target was written");
    assert!(std::fs::symlink_metadata(shm_file(&a)).unwrap().file_type().is_file());
    drop(tx);

    // A link from ring `a` to ring `b`'s dead object.
    let b = unique_name("link-b");
    leave_dead_ring(&b);
    let b_object = ring_identity(&b);
    std::os::unix::fs::symlink(shm_file(&b), shm_file(&a)).unwrap();
    let mut ta = Producer::create(&a, config()).unwrap();
    pattern::publish_next(&mut ta);
    assert_ne!(ring_identity(&a), b_object);
    assert_eq!(ring_identity(&b), b_object);
    let status = admin::status(&b).unwrap();
    assert_eq!((status.generation, status.published), (1, 1), "ring b was taken over through a's link");
    admin::remove(&b, false).unwrap();
}

#[test]
fn a_dangling_symlink_does_not_block_its_name() {
    // Defect: `create` spun 250 ms and failed with NotFound, `rm` said there
    // was no such ring, `clean` ignored it.
    if !private_shm() {
        return;
    }
    let prefix = unique_name("dangling");
    let names: Vec<String> = (0..3).map(|i| format!("{prefix}-{i}")).collect();
    for n in &names {
        std::os::unix::fs::symlink("/dev/shm/nothing-here", shm_file(n)).unwrap();
    }
    drop(Producer::create(&names[0], config()).unwrap());
    admin::remove(&names[1], false).unwrap();
    assert_eq!(admin::clean(&prefix).unwrap(), vec![names[2].clone()]);
    for n in &names {
        assert!(std::fs::symlink_metadata(shm_file(n)).is_err(), "{n} is still there");
    }
}

#[test]
fn a_fifo_at_a_ring_name_blocks_no_call() {
    // Defect: `mkfifo /dev/shm/framering.x` made Consumer::open, `ls` (for
    // every name), `info`, `rm` and `clean` block in open() forever, and a
    // waiting consumer whose producer closed blocked when it re-opened.
    if !private_shm() {
        return;
    }
    let prefix = unique_name("fifo");
    let fifo = format!("{prefix}-x");
    let mkfifo = |name: &str| {
        rustix::fs::mknodat(rustix::fs::CWD, shm_file(name).as_str(), rustix::fs::FileType::Fifo, 0o666.into(), 0)
            .unwrap()
    };
    mkfifo(&fifo);
    let f = fifo.clone();
    match within_deadline("Consumer::open on a FIFO", move || Consumer::open(&f)) {
        Err(Error::Occupied { occupant, .. }) => assert_eq!(occupant.kind, ObjectKind::Fifo),
        other => panic!("{other:?}"),
    }
    let f = fifo.clone();
    assert!(matches!(within_deadline("admin::status", move || admin::status(&f)), Err(Error::Occupied { .. })));
    // The command line lists and inspects without blocking.
    let ls = cli(&["ls"]);
    assert!(String::from_utf8_lossy(&ls.stdout).contains("a FIFO"), "{ls:?}");
    let info = cli(&["info", &fifo]);
    assert_eq!(info.status.code(), Some(1), "{info:?}");
    assert!(String::from_utf8_lossy(&info.stderr).contains("a FIFO owned by uid 0"), "{info:?}");

    // A consumer waiting on a ring whose producer closes, and whose name
    // then holds a FIFO, keeps answering within its timeouts.
    let live = format!("{prefix}-live");
    let tx = Producer::create(&live, config()).unwrap();
    let mut rx = Consumer::open(&live).unwrap();
    drop(tx);
    mkfifo(&live);
    let waited = within_deadline("a consumer re-opening a FIFO", move || {
        let mut buf = FrameBuf::new();
        let first = rx.wait_latest(&mut buf, Duration::from_millis(300));
        let second = rx.wait_latest(&mut buf, Duration::from_millis(300));
        (first, second)
    });
    // The loss is reported once; the second wait times out.
    assert!(matches!(waited, (Err(Error::Closed), Err(Error::Timeout))), "{waited:?}");

    // A producer replaces a FIFO; `rm` and `clean` remove them.
    drop(Producer::create(&live, config()).unwrap());
    mkfifo(&format!("{prefix}-y"));
    let rm = cli(&["rm", &fifo]);
    assert!(rm.status.success(), "{rm:?}");
    let clean = cli(&["clean", &prefix]);
    assert!(String::from_utf8_lossy(&clean.stdout).contains(&format!("removed {prefix}-y")), "{clean:?}");
    assert!(admin::list().unwrap().iter().all(|n| !n.starts_with(&prefix)));
}

/// Takes a lock on ring `name` through a read-only descriptor, as any user
/// who may read the ring can.
fn reader_lock(name: &str, how: &str) -> std::fs::File {
    let file = std::fs::File::open(shm_file(name)).unwrap();
    match how {
        "flock-ex" => rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).unwrap(),
        "flock-sh" => rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockShared).unwrap(),
        "posix-read" => rustix::fs::fcntl_lock(&file, rustix::fs::FlockOperation::NonBlockingLockShared).unwrap(),
        "ofd-read" => {
            use std::os::fd::AsRawFd;
            // SAFETY: `flock` is plain integers; all-zero is a valid value.
            let mut lock: libc::flock = unsafe { std::mem::zeroed() };
            lock.l_type = libc::F_RDLCK as libc::c_short;
            lock.l_whence = libc::SEEK_SET as libc::c_short;
            // SAFETY: a valid open descriptor and a valid `struct flock`.
            let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &mut lock) };
            assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
        }
        other => panic!("{other}"),
    }
    file
}

#[test]
fn locks_a_reader_can_take_never_keep_a_dead_ring_alive() {
    // Defect: `flock` needs only a read descriptor, so a reader holding
    // LOCK_EX made a dead producer look alive to consumers and `ls`, and
    // LOCK_SH or LOCK_EX kept every new producer out.
    if !private_shm() {
        return;
    }
    for how in ["flock-ex", "flock-sh", "posix-read", "ofd-read"] {
        let name = unique_name(how);
        leave_dead_ring(&name);
        let mut rx = Consumer::open(&name).unwrap();
        let held = reader_lock(&name, how);
        assert_eq!(rx.producer_state().unwrap(), ProducerState::Dead, "{how}");
        assert_eq!(admin::status(&name).unwrap().producer, ProducerState::Dead, "{how}");
        let mut buf = FrameBuf::new();
        assert_eq!(rx.wait_latest(&mut buf, LONG).unwrap().frame, 1);
        assert!(matches!(rx.wait_latest(&mut buf, LONG), Err(Error::ProducerDead)), "{how}");
        // A new producer is not kept out: it takes over or replaces the ring,
        // and the consumer follows it.
        let mut tx = Producer::create(&name, config()).unwrap_or_else(|e| panic!("{how}: {e:?}"));
        let n = pattern::publish_next(&mut tx);
        let meta = rx.wait_latest(&mut buf, LONG).unwrap();
        assert_eq!(meta.frame, n, "{how}");
        assert!(pattern::intact(&meta, &buf));
        drop(held);
    }
}

#[test]
fn objects_left_by_a_producer_killed_inside_create_are_stale() {
    // Defect: a 0-byte object, or a full-size one with state 0, was "still
    // being initialized" forever: `clean` skipped it.
    if !private_shm() {
        return;
    }
    let prefix = unique_name("half");
    let (empty, zeroed, young) = (format!("{prefix}-empty"), format!("{prefix}-zeroed"), format!("{prefix}-young"));
    std::fs::File::create(shm_file(&empty)).unwrap();
    std::fs::File::create(shm_file(&zeroed)).unwrap().set_len(4096).unwrap();
    std::fs::File::create(shm_file(&young)).unwrap();
    for n in [&empty, &zeroed] {
        age(&shm_file(n), 60);
        chmod(&shm_file(n), 0o600);
        match Consumer::open(n) {
            Err(e @ Error::Layout(LayoutError::Abandoned { .. })) => assert!(e.is_transient()),
            other => panic!("{n}: {other:?}"),
        }
    }
    // A young one may still be being written: not stale yet.
    assert!(matches!(Consumer::open(&young), Err(Error::Layout(LayoutError::NotInitialized))));
    let mut removed = admin::clean(&prefix).unwrap();
    removed.sort();
    assert_eq!(removed, vec![empty.clone(), zeroed.clone()]);
    assert!(Path::new(&shm_file(&young)).exists());
    // A producer replaces one at once, young or not.
    let tx = Producer::create(&young, config()).unwrap();
    assert_eq!(admin::status(&young).unwrap().producer, ProducerState::Alive);
    drop(tx);
}

#[test]
fn clean_removes_the_private_objects_of_producers_that_died_creating_a_ring() {
    if !private_shm() {
        return;
    }
    let name = unique_name("tmp");
    // What a producer killed between building its ring and naming it leaves.
    let leftover = format!("/dev/shm/.framering-tmp.{name}.4242.0");
    std::fs::File::create(&leftover).unwrap().set_len(4096).unwrap();
    let fresh = format!("/dev/shm/.framering-tmp.{name}.4242.1");
    std::fs::File::create(&fresh).unwrap();
    age(&leftover, 60);
    assert_eq!(admin::clean(&name).unwrap(), vec![format!(".framering-tmp.{name}.4242.0")]);
    assert!(Path::new(&fresh).exists(), "a young one may be a producer's ring being built");
    assert!(admin::list().unwrap().is_empty(), "private objects are not rings");
}

#[test]
fn polling_readers_follow_a_ring_replaced_after_a_crash() {
    // Defect: try_latest/try_next only followed a ring replaced after a
    // clean close: after a crash and a restart at another geometry a polling
    // reader got None forever.
    let name = unique_name("poll");
    let (mut child, mut out) = spawn_role(ENTRY, "hold", &name, &[]);
    read_line_starting(&mut out, "READY");
    let mut rx = Consumer::open(&name).unwrap();
    let mut buf = FrameBuf::new();
    assert_eq!(rx.try_latest(&mut buf).unwrap().unwrap().frame, 1);
    child.kill().unwrap();
    child.wait().unwrap();
    // The camera comes back at another size: a new object.
    let mut tx = Producer::create(&name, RingConfig::new(4, pattern::MAX_BYTES)).unwrap();
    let n = pattern::publish_next(&mut tx);
    for next in [false, true] {
        let deadline = Instant::now() + LONG;
        let meta = loop {
            let got = if next { rx.try_next(&mut buf) } else { rx.try_latest(&mut buf) };
            if let Some(meta) = got.unwrap() {
                break meta;
            }
            assert!(Instant::now() < deadline, "a polling reader never followed the replaced ring");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert_eq!((meta.frame, rx.slots()), (if next { n + 1 } else { n }, 4));
        assert!(pattern::intact(&meta, &buf));
        pattern::publish_next(&mut tx);
    }
}

#[test]
fn truncation_is_left_to_the_owner() {
    // Only processes with write permission can truncate a ring; after
    // hardening that is its owner (mode 0600 by default) and root: another
    // user can neither open it for writing nor get a producer to adopt an
    // object they own.
    if !private_shm() {
        return;
    }
    let name = unique_name("trunc");
    let _tx = Producer::create(&name, config()).unwrap();
    let mut child = Command::new("sh")
        .args(["-c", &format!(": > {}", shm_file(&name))])
        .uid(USER_UID)
        .gid(USER_UID)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(!child.wait().unwrap().success(), "another user truncated the ring");
    assert!(err.contains("Permission denied"), "{err}");
    let _ = std::io::stdout().flush();
}

#[test]
fn a_hard_link_never_makes_one_ring_take_over_another_rings_object() {
    // Defect: ring b's producer took over ring a's dead object through a
    // hard link at b's name (generation 2 on a's object), and a's producer
    // then failed with ProducerExists.
    if !private_shm() {
        return;
    }
    let (a, b) = (unique_name("link-a"), unique_name("link-b"));
    leave_dead_ring(&a);
    std::fs::hard_link(shm_file(&a), shm_file(&b)).unwrap();
    let tx_b = Producer::create(&b, config()).unwrap();
    assert_eq!(tx_b.generation(), 1, "b's producer took a's object over through the link");
    assert_ne!(ring_identity(&a), ring_identity(&b));
    let tx_a = Producer::create(&a, config()).unwrap_or_else(|e| panic!("a's producer: {e:?}"));
    assert_eq!(tx_a.generation(), 2, "a's own dead ring, now with one name, is taken over");
}

/// Runs this test binary's child `role` on ring `name` as user `uid`,
/// with its stdout piped.
fn spawn_as(uid: u32, role: &str, name: &str) -> (std::process::Child, std::io::BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([ENTRY, "--exact", "--ignored", "--nocapture", "-q"])
        .env("FRAMERING_TEST_ROLE", role)
        .env("RING", name)
        .uid(uid)
        .gid(uid)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    (child, out)
}

#[test]
fn consumers_can_require_the_rings_owner_and_the_tools_do_by_default() {
    // Defect: readers never checked the ring's owner: a live producer run
    // by `nobody` on `cam` had root's reader accept nobody's frames.
    if !private_shm() {
        return;
    }
    let name = unique_name("owner");
    let (mut child, mut out) = spawn_as(OTHER_UID, "hold", &name);
    read_line_starting(&mut out, "READY");
    assert_eq!(std::fs::metadata(shm_file(&name)).unwrap().uid(), OTHER_UID);
    // Anyone's ring by default in the library; only root's and the given
    // user's once asked.
    assert!(Consumer::open(&name).unwrap().has_ring());
    match Consumer::open(&name).unwrap().with_owner(0) {
        Err(Error::Occupied { occupant, reason, .. }) => {
            assert_eq!(occupant.uid, OTHER_UID);
            assert!(reason.contains("owner"), "{reason}");
        }
        other => panic!("nobody's ring for a consumer of root's: {other:?}"),
    }
    assert!(Consumer::open(&name).unwrap().with_owner(OTHER_UID).is_ok());
    // A waiting consumer lets go of it, says why once, and waits on.
    let mut rx = Consumer::new(&name).unwrap().with_owner(0).unwrap();
    assert!(!rx.has_ring());
    let mut buf = FrameBuf::new();
    assert!(matches!(rx.wait_latest(&mut buf, Duration::from_millis(50)), Err(Error::Occupied { .. })));
    assert!(matches!(rx.wait_latest(&mut buf, Duration::from_millis(50)), Err(Error::Timeout)));
    // The CLI accepts only this user's (root's) rings unless told otherwise.
    let refused = cli(&["watch", &name, "--count", "1", "--interval-ms", "10"]);
    let text = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("uid {OTHER_UID}")), "{text}");
    let any = cli(&["watch", &name, "--count", "1", "--interval-ms", "10", "--owner", "any"]);
    assert!(any.status.success(), "{}", String::from_utf8_lossy(&any.stderr));
    let theirs = cli(&["watch", &name, "--count", "1", "--interval-ms", "10", "--owner", &OTHER_UID.to_string()]);
    assert!(theirs.status.success(), "{}", String::from_utf8_lossy(&theirs.stderr));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_ring_directory_moved_or_swapped_for_a_link_is_not_followed() {
    // Defect: links in a ring's directory part were followed, and a ring
    // whose directory was moved (and replaced by a link) was not removed
    // when its producer closed: the producer looked for it by path.
    if !private_shm() {
        return;
    }
    let (dir, moved, decoy) = (Path::new("/dev/shm/rings"), Path::new("/dev/shm/moved"), Path::new("/dev/shm/decoy"));
    std::fs::create_dir(dir).unwrap();
    std::fs::create_dir(decoy).unwrap();
    let name = unique_name("moved");
    let path = format!("{}/{name}", dir.display());
    let tx = Producer::create(&path, config()).unwrap();
    std::fs::rename(dir, moved).unwrap();
    std::os::unix::fs::symlink(decoy, dir).unwrap();
    // Another producer's ring of the same name where the link leads.
    let other = Producer::create(&format!("{}/{name}", decoy.display()), config()).unwrap();
    tx.close().unwrap();
    let object = format!("framering.{name}");
    assert!(!moved.join(&object).exists(), "the closing producer left its ring behind in the moved directory");
    assert!(decoy.join(&object).exists(), "the closing producer removed another ring through the link");
    drop(other);
    // A link in the directory part is refused with a clear error, by
    // producers, consumers and the tools alike.
    match Producer::create(&path, config()) {
        Err(Error::LinkedDirectory { link, .. }) => assert_eq!(link, dir),
        other => panic!("a ring behind a link: {other:?}"),
    }
    assert!(matches!(Consumer::open(&path), Err(Error::LinkedDirectory { .. })));
    assert!(matches!(Consumer::new(&path), Err(Error::LinkedDirectory { .. })));
    assert!(matches!(admin::list_in(dir), Err(Error::LinkedDirectory { .. })));
    assert!(decoy.read_dir().unwrap().next().is_none(), "nothing was made through the link");
}

#[test]
fn removing_another_users_ring_says_whose_it_is() {
    // Defect: `rm` of another user's object (mode 0666, so this user could
    // open and lock it) as non-root printed "unlink failed: Operation not
    // permitted".
    if !private_shm() {
        return;
    }
    let name = unique_name("rm-foreign");
    leave_dead_ring(&name);
    chown(&shm_file(&name), OTHER_UID);
    chmod(&shm_file(&name), 0o666);
    let out = Command::new(env!("CARGO_BIN_EXE_framering")).args(["rm", &name]).uid(USER_UID).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("owned by uid {OTHER_UID} (mode 0666)")) && text.contains("only its owner or root"),
        "{text}"
    );
    assert!(Path::new(&shm_file(&name)).exists());
}

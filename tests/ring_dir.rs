//! Rings outside /dev/shm: a `DIR/NAME` path or `FRAMERING_DIR` puts a ring
//! in another directory (a tmpfs with huge pages, a volume shared between
//! containers), and everything that opens rings by name follows.
#![cfg(target_os = "linux")]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{pattern, unique_name};
use framering::{Consumer, Error, FrameBuf, FrameInfo, PixelFormat, Producer, RingConfig, admin};

/// The CLI with `FRAMERING_DIR` set to `dir`.
fn cli_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_framering")).env("FRAMERING_DIR", dir).args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn a_path_or_framering_dir_puts_a_ring_in_another_directory_and_every_tool_follows() {
    // Makes a directory beside the rings: only in a private /dev/shm.
    if !common::private_shm() {
        return;
    }
    let dir = Path::new("/dev/shm/rings");
    std::fs::create_dir(dir).unwrap();
    let name = unique_name("dir");
    let path = format!("{}/{name}", dir.display());
    let mut tx = Producer::create(&path, RingConfig::new(3, pattern::MAX_BYTES)).unwrap();
    tx.publish(pattern::info(1), &pattern::bytes(1)).unwrap();
    assert!(dir.join(format!("framering.{name}")).is_file());
    assert!(!Path::new(&common::shm_file(&name)).exists(), "nothing in /dev/shm itself");
    assert_eq!(tx.name().as_str(), path);

    // A consumer by path, and by bare name where the default directory is
    // /dev/shm: found, and not found.
    let mut rx = Consumer::open(&path).unwrap();
    let mut buf = FrameBuf::new();
    let meta = rx.try_latest(&mut buf).unwrap().unwrap();
    assert!(pattern::intact(&meta, &buf));
    assert!(matches!(Consumer::open(&name), Err(Error::NotFound { .. })));
    assert_eq!(admin::list_in(dir).unwrap(), std::slice::from_ref(&name));
    assert!(!admin::list().unwrap().contains(&name));

    // The CLI with FRAMERING_DIR finds it by its bare name.
    let ls = cli_in(dir, &["ls"]);
    assert!(ls.status.success() && text(&ls).contains(&name), "{}", text(&ls));
    let info = cli_in(dir, &["info", &name]);
    assert!(info.status.success() && text(&info).contains("pages "), "{}", text(&info));

    // `clean DIR/PREFIX` cleans that directory (a copy of the live ring's
    // object is a ring whose producer is dead), and names what it removed
    // by path; the live ring stays.
    let object = |ring: &str| dir.join(format!("framering.{ring}"));
    std::fs::write(object(&format!("{name}-dead")), std::fs::read(object(&name)).unwrap()).unwrap();
    let removed = admin::clean(&format!("{path}-")).unwrap();
    assert_eq!(removed, [format!("{path}-dead")]);
    assert_eq!(admin::list_in(dir).unwrap(), std::slice::from_ref(&name));
    drop((tx, rx));
    assert!(admin::list_in(dir).unwrap().is_empty(), "a closing producer removes its ring");

    // A directory that does not exist is a clear error, not a panic.
    let e = Producer::create("/dev/shm/no-such-dir/cam0", RingConfig::new(2, 64)).unwrap_err();
    assert!(matches!(&e, Error::NoDirectory { dir } if dir == Path::new("/dev/shm/no-such-dir")), "{e}");
    // Consumers say so too, waiting ones included, instead of waiting for
    // a ring that cannot appear.
    assert!(matches!(Consumer::open("/dev/shm/no-such-dir/cam0"), Err(Error::NoDirectory { .. })));
    assert!(matches!(Consumer::new("/dev/shm/no-such-dir/cam0"), Err(Error::NoDirectory { .. })));
}

/// Mounts a tmpfs of `size` at `dir` (inside a private /dev/shm).
fn small_tmpfs(dir: &Path, size: &std::ffi::CStr) {
    use rustix::mount::{MountFlags, mount};
    std::fs::create_dir(dir).unwrap();
    mount("tmpfs", dir, "tmpfs", MountFlags::NOSUID | MountFlags::NODEV, size).unwrap();
}

#[test]
fn a_ring_larger_than_its_file_system_is_refused_and_leaves_nothing_behind() {
    // Defect: `Producer::create` on a tmpfs with less room than the ring
    // succeeded (the object was sparse), then the first frames killed the
    // producer with SIGBUS and left a dead ring.
    if !common::private_shm() {
        return;
    }
    let dir = Path::new("/dev/shm/small");
    small_tmpfs(dir, c"mode=1777,size=4m");
    let path = format!("{}/{}", dir.display(), unique_name("nospace"));
    let frame = FrameInfo::new(1000, 1000, PixelFormat::Gray8);
    match Producer::create(&path, RingConfig::new(2, 3_000_000)) {
        Err(e @ Error::NoSpace { .. }) => {
            let Error::NoSpace { needed, free, .. } = &e else { unreachable!() };
            assert!(*needed >= 6_000_000 && *free <= 4 << 20, "{e}");
            let text = e.to_string();
            assert!(text.contains("--shm-size") && text.contains(&dir.display().to_string()), "{text}");
        }
        other => panic!("a 6 MB ring on a 4 MiB tmpfs: {other:?}"),
    }
    let left: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "nothing half-made remains: {left:?}");

    // A ring that fits is made, and every byte of every slot can be written.
    let mut tx = Producer::create(&path, RingConfig::new(3, 1_000_000)).unwrap();
    for n in 1..=6u8 {
        tx.publish(frame, &vec![n; 1_000_000]).unwrap();
    }
    // No room for a second one beside it: refused, the first unharmed.
    let other = format!("{}/{}", dir.display(), unique_name("nospace2"));
    assert!(matches!(Producer::create(&other, RingConfig::new(2, 1_000_000)), Err(Error::NoSpace { .. })));
    let mut rx = Consumer::open(&path).unwrap();
    let mut buf = FrameBuf::new();
    rx.try_latest(&mut buf).unwrap().unwrap();
    assert!(buf.iter().all(|&b| b == 6));
    drop((tx, rx));
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0);

    // `play` sized from a y4m header says the same, with the hint, as an
    // error (exit 1), not a crash.
    let mut play = Command::new(env!("CARGO_BIN_EXE_framering"))
        .args(["play", &path])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let _ = play.stdin.take().unwrap().write_all(b"YUV4MPEG2 W4000 H2000 F30:1 C420\n");
    let out = play.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--shm-size"), "{}", text(&out));
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0);
}

#[test]
fn a_producer_takes_over_a_dead_ring_only_once_its_memory_is_reserved() {
    // A dead ring whose object was never filled in (sparse: an older
    // producer, or truncated and regrown) on a file system that has no room
    // for it: taking it over must reserve its pages first, or the first
    // frames are a SIGBUS.
    if !common::private_shm() {
        return;
    }
    let dir = Path::new("/dev/shm/small");
    small_tmpfs(dir, c"mode=1777,size=8m");
    let name = unique_name("sparse");
    let path = format!("{}/{name}", dir.display());
    let config = RingConfig::new(2, 3_000_000);
    // A dead producer's ring: its bytes, copied into a sparse file (the
    // header page only), with nobody holding its lock.
    let template = Producer::create(&path, config).unwrap();
    let object = dir.join(format!("framering.{name}"));
    let header = std::fs::read(&object).unwrap()[..4096].to_vec();
    let len = std::fs::metadata(&object).unwrap().len();
    drop(template);
    let file = std::fs::OpenOptions::new().create_new(true).write(true).open(&object).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, &header, 0).unwrap();
    file.set_len(len).unwrap();
    drop(file);
    std::fs::set_permissions(&object, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    // Fill the file system so that the sparse ring's pages cannot all come.
    std::fs::write(dir.join("ballast"), vec![1u8; 4 << 20]).unwrap();
    match Producer::create(&path, config) {
        Err(Error::NoSpace { .. }) => {}
        other => panic!("taking over a sparse ring with no room for it: {other:?}"),
    }
    // With room, it is taken over in place (generation 2), and every slot
    // can be written.
    std::fs::write(dir.join("ballast"), vec![1u8; 1 << 20]).unwrap();
    let mut tx = Producer::create(&path, config).unwrap();
    assert_eq!(tx.generation(), 2, "taken over, not replaced");
    let frame = FrameInfo::new(1000, 3000, PixelFormat::Gray8);
    for n in 1..=4u8 {
        tx.publish(frame, &vec![n; 3_000_000]).unwrap();
    }
}

#[test]
fn a_ring_in_a_huge_page_tmpfs_is_backed_by_huge_pages_and_info_says_so() {
    let Some(huge) = common::private_huge_dir() else { return };
    let info = FrameInfo::new(1920, 1080, PixelFormat::Bgr24);
    let len = info.payload_len().unwrap().unwrap();
    let frame: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
    let name = unique_name("huge");
    let mut rings = Vec::new();
    for dir in [huge.as_path(), Path::new("/dev/shm")] {
        let path = format!("{}/{name}", dir.display());
        let mut tx = Producer::create(&path, RingConfig::new(3, len)).unwrap();
        tx.publish(info, &frame).unwrap();
        let mut rx = Consumer::open(&path).unwrap();
        let mut buf = FrameBuf::new();
        rx.try_latest(&mut buf).unwrap().unwrap();
        assert!(buf[..] == frame[..], "{path}: the frame comes through");
        // Large segments are whole huge pages long.
        let object = std::fs::metadata(dir.join(format!("framering.{name}"))).unwrap();
        assert_eq!(object.len() % admin::HUGE_PAGE, 0, "{path}: {} bytes", object.len());
        let huge_mapped = admin::status(&path).unwrap().huge_mapped;
        rings.push((path, huge_mapped, tx, rx));
    }
    let huge_mapped = rings[0].1.expect("smaps readable");
    assert!(huge_mapped >= admin::HUGE_PAGE, "huge tmpfs: {huge_mapped} bytes mapped huge");
    assert_eq!(rings[1].1, Some(0), "/dev/shm has no huge=");
    let out = cli_in(&huge, &["info", &name]);
    assert!(text(&out).contains("pages            2 MiB huge pages"), "{}", text(&out));
    let out = cli_in(&huge, &["info", &name, "--json"]);
    assert!(text(&out).contains("\"pages\":\"huge\""), "{}", text(&out));
    let out = cli_in(Path::new("/dev/shm"), &["info", &name]);
    assert!(text(&out).contains("pages            4 KiB (its directory's tmpfs has no huge="), "{}", text(&out));
}

//! Rings outside /dev/shm: a `DIR/NAME` path or `FRAMERING_DIR` puts a ring
//! in another directory (a tmpfs with huge pages, a volume shared between
//! containers), and everything that opens rings by name follows.

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
    assert!(matches!(Consumer::open("/dev/shm/no-such-dir/cam0"), Err(Error::NotFound { .. })));
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

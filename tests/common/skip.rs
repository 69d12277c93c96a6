//! Saying that a test did not run. A test that cannot run here (no root,
//! no ffmpeg) returns early and would report green; this makes it visible:
//! a line on stderr, and one in the file `FRAMERING_SKIP_LOG` names, which
//! `.ci/run` counts and prints (and where everything is installed and runs
//! as root, requires to be empty). Shared with the latency bench.

/// Reports that the calling test is skipped, and why.
pub fn skip(reason: &str) {
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let program = std::env::args().next().unwrap_or_default();
    let binary = std::path::Path::new(&program).file_name().map(|f| f.to_string_lossy().into_owned());
    let line = format!("{}: {test}: {reason}", binary.unwrap_or_default());
    eprintln!("skipped: {line}");
    if let Some(log) = std::env::var_os("FRAMERING_SKIP_LOG") {
        use std::io::Write;
        // One short O_APPEND write per line: lines from test processes
        // running at once do not interleave.
        if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
            let _ = file.write_all(format!("{line}\n").as_bytes());
        }
    }
}

//! What each command prints: one record per command, rendered as text for
//! people or as JSON (`--json`) for programs, from the same fields.

use framering::admin::{self, RingStatus, SlotState};
use framering::{PixelFormat, ProducerState};
use serde::Serialize;

/// A command's result, printable either way.
pub(crate) trait Record {
    /// Lines for a terminal.
    fn text(&self) -> String;
    /// One JSON value.
    fn json(&self) -> String;
}

/// Prints `record` as JSON or text.
pub(crate) fn emit(record: &impl Record, json: bool) {
    println!("{}", if json { record.json() } else { record.text() });
}

/// Where long-running commands (`watch`, bridges) print: on a terminal the
/// status is one line updated in place, with events printed above it;
/// piped (or with `--json`), every status and event is a line of its own.
pub(crate) struct LiveLine {
    tty: bool,
    open: bool,
}

impl LiveLine {
    pub(crate) fn new(json: bool) -> Self {
        use std::io::IsTerminal;
        Self { tty: !json && std::io::stdout().is_terminal(), open: false }
    }

    /// The current status, replacing the previous one on a terminal.
    pub(crate) fn status(&mut self, text: &str) {
        use std::io::Write;
        if self.tty {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "\r\x1b[2K{text}");
            let _ = out.flush();
            self.open = true;
        } else {
            println!("{text}");
        }
    }

    /// A line that stays (an event), above the status line.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))] // the bridges' events
    pub(crate) fn event(&mut self, text: &str) {
        if std::mem::take(&mut self.open) {
            print!("\r\x1b[2K");
        }
        println!("{text}");
    }

    /// Ends the status line (the last status stays on screen).
    pub(crate) fn finish(&mut self) {
        if std::mem::take(&mut self.open) {
            println!();
        }
    }
}

pub(crate) fn state_word(s: ProducerState) -> &'static str {
    match s {
        ProducerState::Alive => "alive",
        ProducerState::Closed => "closed",
        ProducerState::Dead => "dead",
        _ => "unknown",
    }
}

/// `x` to `places` decimals, as `--json` has always printed it.
pub(crate) fn round(x: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (x * scale).round() / scale
}

/// JSON text of `value` (of records whose serialization cannot fail:
/// plain structs of strings and numbers).
pub(crate) fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
}

/// A format's name for people (`BGR24`) and its FourCC for programs
/// (`BGR3`, in `--json` only; docs/FORMAT.md §3).
fn format_names(format: Option<PixelFormat>) -> (String, String) {
    format.map_or(("?".to_owned(), "?".to_owned()), |f| {
        (f.name().to_owned(), String::from_utf8_lossy(&f.fourcc_bytes()).into_owned())
    })
}

/// The newest frame's format (name, FourCC) and size, "corrupt" if a slot
/// holds impossible metadata.
fn newest_words(s: &RingStatus) -> (String, String, String) {
    if s.slot_states.iter().any(|slot| matches!(slot, SlotState::Corrupt { .. })) {
        return ("corrupt".to_owned(), "-".to_owned(), "-".to_owned());
    }
    match s.newest() {
        Some(SlotState::Frame { width, height, format, .. }) => {
            let (name, fourcc) = format_names(format);
            (name, fourcc, format!("{width}x{height}"))
        }
        _ => ("-".to_owned(), "-".to_owned(), "-".to_owned()),
    }
}

/// A user's name from /etc/passwd, or the number.
pub(crate) fn owner(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

fn age_secs(status: &RingStatus, now: u64) -> f64 {
    now.saturating_sub(status.started_ns) as f64 / 1e9
}

/// `framering ls`: every ring, or why it cannot be read.
pub(crate) struct RingTable {
    pub(crate) rows: Vec<(String, Result<RingStatus, String>)>,
    pub(crate) now: u64,
}

impl Record for RingTable {
    fn text(&self) -> String {
        let mut lines = vec![format!(
            "{:<24} {:>8} {:>8} {:<7} {:<7} {:>11} {:>7} {:>9} {:>9}",
            "NAME", "OWNER", "PID", "STATE", "FORMAT", "SIZE", "FPS", "CONSUMERS", "AGE"
        )];
        for (name, st) in &self.rows {
            lines.push(match st {
                Ok(s) => {
                    let (format, _, size) = newest_words(s);
                    format!(
                        "{:<24} {:>8} {:>8} {:<7} {:<7} {:>11} {:>7.1} {:>9} {:>8.1}s",
                        name,
                        owner(s.owner_uid),
                        s.producer_pid,
                        state_word(s.producer),
                        format,
                        size,
                        s.fps(self.now),
                        admin::consumers(s),
                        age_secs(s, self.now)
                    )
                }
                Err(e) => format!("{name:<24} unreadable: {e}"),
            });
        }
        lines.join("\n")
    }

    fn json(&self) -> String {
        #[derive(Serialize)]
        #[serde(untagged)]
        enum Row<'a> {
            Ring {
                name: &'a str,
                owner_uid: u32,
                mode: String,
                producer_pid: u32,
                producer: &'static str,
                format: String,
                fourcc: String,
                size: String,
                fps: f64,
                consumers: usize,
                age_s: f64,
                published: u64,
            },
            Unreadable {
                name: &'a str,
                error: &'a str,
            },
        }
        let rows: Vec<Row> = self
            .rows
            .iter()
            .map(|(name, st)| match st {
                Ok(s) => {
                    let (format, fourcc, size) = newest_words(s);
                    Row::Ring {
                        name,
                        owner_uid: s.owner_uid,
                        mode: format!("{:04o}", s.mode),
                        producer_pid: s.producer_pid,
                        producer: state_word(s.producer),
                        format,
                        fourcc,
                        size,
                        fps: round(s.fps(self.now), 1),
                        consumers: admin::consumers(s),
                        age_s: round(age_secs(s, self.now), 1),
                        published: s.published,
                    }
                }
                Err(error) => Row::Unreadable { name, error },
            })
            .collect();
        to_json(&rows)
    }
}

/// `framering info`: the header and every slot.
pub(crate) struct RingInfo {
    pub(crate) status: RingStatus,
    pub(crate) now: u64,
}

impl Record for RingInfo {
    fn text(&self) -> String {
        let (s, now) = (&self.status, self.now);
        let mut lines = vec![
            format!("ring             {}", s.name),
            format!(
                "producer         pid {} ({}), generation {}, for {:.1}s",
                s.producer_pid,
                state_word(s.producer),
                s.generation,
                age_secs(s, now)
            ),
            format!("published        {} frames, {:.1} fps", s.published, s.fps(now)),
            format!("slots            {} of {} bytes (segment {} bytes)", s.slots, s.max_frame_bytes, s.segment_size),
            format!(
                "owner            {} (uid {}), mode {:04o}",
                s.owner_sid.clone().unwrap_or_else(|| owner(s.owner_uid)),
                s.owner_uid,
                s.mode
            ),
            format!("consumers        {}", admin::consumers(s)),
            format!("pages            {}", pages_text(s)),
        ];
        for (i, slot) in s.slot_states.iter().enumerate() {
            let text = match *slot {
                SlotState::Writing => "writing".to_owned(),
                SlotState::Empty => "empty".to_owned(),
                SlotState::Frame { frame, publish_ns, width, height, format, len } => format!(
                    "frame {frame}: {width}x{height} {} {len} bytes, published {:.1} ms ago",
                    format_names(format).0,
                    now.saturating_sub(publish_ns) as f64 / 1e6
                ),
                SlotState::Corrupt { frame, reason } => format!("corrupt (claims frame {frame}: {reason})"),
                _ => "unknown".to_owned(),
            };
            lines.push(format!("slot {i:<11} {text}"));
        }
        lines.join("\n")
    }

    fn json(&self) -> String {
        #[derive(Serialize)]
        #[serde(tag = "state", rename_all = "lowercase")]
        enum Slot<'a> {
            Writing,
            Empty,
            Frame { frame: u64, age_ms: f64, width: u32, height: u32, format: String, fourcc: String, len: u64 },
            Corrupt { frame: u64, reason: &'a str },
            Unknown,
        }
        #[derive(Serialize)]
        struct Info<'a> {
            name: &'a str,
            producer: &'static str,
            producer_pid: u32,
            generation: u64,
            age_s: f64,
            published: u64,
            fps: f64,
            slot_count: u32,
            max_frame_bytes: u64,
            segment_size: u64,
            owner_uid: u32,
            mode: String,
            consumers: usize,
            pages: &'static str,
            slots: Vec<Slot<'a>>,
        }
        fn slot(slot: &SlotState, now: u64) -> Slot<'_> {
            match *slot {
                SlotState::Writing => Slot::Writing,
                SlotState::Empty => Slot::Empty,
                SlotState::Frame { frame, publish_ns, width, height, format, len } => {
                    let (format, fourcc) = format_names(format);
                    let age_ms = round(now.saturating_sub(publish_ns) as f64 / 1e6, 3);
                    Slot::Frame { frame, age_ms, width, height, format, fourcc, len }
                }
                SlotState::Corrupt { frame, reason } => Slot::Corrupt { frame, reason },
                _ => Slot::Unknown,
            }
        }
        let (s, now) = (&self.status, self.now);
        to_json(&Info {
            name: &s.name,
            producer: state_word(s.producer),
            producer_pid: s.producer_pid,
            generation: s.generation,
            age_s: round(age_secs(s, now), 1),
            published: s.published,
            fps: round(s.fps(now), 1),
            slot_count: s.slots,
            max_frame_bytes: s.max_frame_bytes as u64,
            segment_size: s.segment_size,
            owner_uid: s.owner_uid,
            mode: format!("{:04o}", s.mode),
            consumers: admin::consumers(s),
            pages: pages_word(s),
            slots: s.slot_states.iter().map(|x| slot(x, now)).collect(),
        })
    }
}

/// Whether a ring's memory is huge-page backed, in words.
fn pages_text(s: &admin::RingStatus) -> String {
    match s.huge_mapped {
        Some(0) if s.segment_size < admin::HUGE_PAGE => "4 KiB (smaller than one 2 MiB huge page)".to_owned(),
        Some(0) => "4 KiB (its directory's tmpfs has no huge=; see docs/PERFORMANCE.md)".to_owned(),
        Some(bytes) => format!("2 MiB huge pages ({} MiB mapped huge so far)", bytes >> 20),
        None => "unknown (/proc/self/smaps unreadable)".to_owned(),
    }
}

/// "huge", "small" or "unknown": [`pages_text`] for JSON.
fn pages_word(s: &admin::RingStatus) -> &'static str {
    match s.huge_mapped {
        Some(0) => "small",
        Some(_) => "huge",
        None => "unknown",
    }
}

/// One `framering watch` interval.
pub(crate) struct WatchLine {
    pub(crate) name: String,
    pub(crate) fps: f64,
    pub(crate) frames: u64,
    pub(crate) dropped: u64,
    pub(crate) p50_us: f64,
    pub(crate) max_us: f64,
    pub(crate) last_frame: u64,
    pub(crate) note: String,
}

impl Record for WatchLine {
    fn text(&self) -> String {
        let Self { name, fps, frames, dropped, p50_us, max_us, last_frame, note } = self;
        format!(
            "{name}: {fps:6.1} fps  {frames} frames  {dropped} dropped  latency p50 {:.2} ms  max {:.2} ms  (frame {last_frame}){}",
            p50_us / 1e3,
            max_us / 1e3,
            if note.is_empty() { String::new() } else { format!("  [{note}]") }
        )
    }

    fn json(&self) -> String {
        let Self { name, fps, frames, dropped, p50_us, max_us, last_frame, note } = self;
        to_json(&serde_json::json!({
            "name": name,
            "fps": round(*fps, 1),
            "frames": frames,
            "dropped": dropped,
            "latency_p50_us": round(*p50_us, 1),
            "latency_max_us": round(*max_us, 1),
            "last_frame": last_frame,
            "note": note,
        }))
    }
}

/// `framering rm`: the ring removed, and its producer if that still runs.
pub(crate) struct Removed {
    pub(crate) name: String,
    pub(crate) live_producer: Option<u32>,
}

impl Record for Removed {
    fn text(&self) -> String {
        match self.live_producer {
            None => format!("removed {}", self.name),
            Some(pid) => format!(
                "removed {}\nnote: its producer (pid {pid}) is still running and keeps publishing into the removed ring: \
                 consumers already reading it go on, new ones will not find it. Stop that producer, or start a new \
                 one under the name.",
                self.name
            ),
        }
    }

    fn json(&self) -> String {
        match self.live_producer {
            None => to_json(&serde_json::json!({ "removed": self.name })),
            Some(pid) => to_json(&serde_json::json!({ "removed": self.name, "live_producer_pid": pid })),
        }
    }
}

/// `framering clean`: everything removed.
pub(crate) struct Cleaned(pub(crate) Vec<String>);

impl Record for Cleaned {
    fn text(&self) -> String {
        if self.0.is_empty() {
            return "nothing to clean".to_owned();
        }
        self.0.iter().map(|n| format!("removed {n}")).collect::<Vec<_>>().join("\n")
    }

    fn json(&self) -> String {
        to_json(&serde_json::json!({ "removed": self.0 }))
    }
}

//! What each command prints: one record per command, rendered as text for
//! people or as JSON (`--json`) for programs, from the same fields.

use framering::ProducerState;
use framering::admin::{self, RingStatus, SlotState};

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

pub(crate) fn state_word(s: ProducerState) -> &'static str {
    match s {
        ProducerState::Alive => "alive",
        ProducerState::Closed => "closed",
        ProducerState::Dead => "dead",
        _ => "unknown",
    }
}

/// A JSON string literal.
pub(crate) fn js(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn format_word(slot: Option<SlotState>) -> (String, String) {
    match slot {
        Some(SlotState::Frame { width, height, format, .. }) => {
            (format.map_or("?".to_owned(), |f| f.to_string()), format!("{width}x{height}"))
        }
        _ => ("-".to_owned(), "-".to_owned()),
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
            "{:<24} {:>8} {:>8} {:<7} {:<6} {:>11} {:>7} {:>9} {:>9}",
            "NAME", "OWNER", "PID", "STATE", "FORMAT", "SIZE", "FPS", "CONSUMERS", "AGE"
        )];
        for (name, st) in &self.rows {
            lines.push(match st {
                Ok(s) => {
                    let (format, size) = format_word(s.newest());
                    format!(
                        "{:<24} {:>8} {:>8} {:<7} {:<6} {:>11} {:>7.1} {:>9} {:>8.1}s",
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
        let items: Vec<String> = self
            .rows
            .iter()
            .map(|(name, st)| match st {
                Ok(s) => {
                    let (format, size) = format_word(s.newest());
                    format!(
                        "{{\"name\":{},\"owner_uid\":{},\"mode\":{},\"producer_pid\":{},\"producer\":{},\"format\":{},\"size\":{},\"fps\":{:.1},\"consumers\":{},\"age_s\":{:.1},\"published\":{}}}",
                        js(name),
                        s.owner_uid,
                        js(&format!("{:04o}", s.mode)),
                        s.producer_pid,
                        js(state_word(s.producer)),
                        js(&format),
                        js(&size),
                        s.fps(self.now),
                        admin::consumers(s),
                        age_secs(s, self.now),
                        s.published
                    )
                }
                Err(e) => format!("{{\"name\":{},\"error\":{}}}", js(name), js(e)),
            })
            .collect();
        format!("[{}]", items.join(","))
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
            format!("owner            {} (uid {}), mode {:04o}", owner(s.owner_uid), s.owner_uid, s.mode),
            format!("consumers        {}", admin::consumers(s)),
        ];
        for (i, slot) in s.slot_states.iter().enumerate() {
            let text = match *slot {
                SlotState::Writing => "writing".to_owned(),
                SlotState::Empty => "empty".to_owned(),
                SlotState::Frame { frame, publish_ns, width, height, format, len } => format!(
                    "frame {frame}: {width}x{height} {} {len} bytes, published {:.1} ms ago",
                    format.map_or("?".to_owned(), |f| f.to_string()),
                    now.saturating_sub(publish_ns) as f64 / 1e6
                ),
                _ => "unknown".to_owned(),
            };
            lines.push(format!("slot {i:<11} {text}"));
        }
        lines.join("\n")
    }

    fn json(&self) -> String {
        let (s, now) = (&self.status, self.now);
        let slot_json = |slot: &SlotState| match *slot {
            SlotState::Writing => "{\"state\":\"writing\"}".to_owned(),
            SlotState::Empty => "{\"state\":\"empty\"}".to_owned(),
            SlotState::Frame { frame, publish_ns, width, height, format, len } => format!(
                "{{\"state\":\"frame\",\"frame\":{frame},\"age_ms\":{:.3},\"width\":{width},\"height\":{height},\"format\":{},\"len\":{len}}}",
                now.saturating_sub(publish_ns) as f64 / 1e6,
                js(&format.map_or("?".to_owned(), |f| f.to_string()))
            ),
            _ => "{\"state\":\"unknown\"}".to_owned(),
        };
        let slots: Vec<String> = s.slot_states.iter().map(slot_json).collect();
        format!(
            "{{\"name\":{},\"producer\":{},\"producer_pid\":{},\"generation\":{},\"age_s\":{:.1},\"published\":{},\"fps\":{:.1},\"slot_count\":{},\"max_frame_bytes\":{},\"segment_size\":{},\"owner_uid\":{},\"mode\":{},\"consumers\":{},\"slots\":[{}]}}",
            js(&s.name),
            js(state_word(s.producer)),
            s.producer_pid,
            s.generation,
            age_secs(s, now),
            s.published,
            s.fps(now),
            s.slots,
            s.max_frame_bytes,
            s.segment_size,
            s.owner_uid,
            js(&format!("{:04o}", s.mode)),
            admin::consumers(s),
            slots.join(",")
        )
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
        format!(
            "{{\"name\":{},\"fps\":{fps:.1},\"frames\":{frames},\"dropped\":{dropped},\"latency_p50_us\":{p50_us:.1},\"latency_max_us\":{max_us:.1},\"last_frame\":{last_frame},\"note\":{}}}",
            js(name),
            js(note)
        )
    }
}

/// `framering rm`: the ring removed.
pub(crate) struct Removed(pub(crate) String);

impl Record for Removed {
    fn text(&self) -> String {
        format!("removed {}", self.0)
    }

    fn json(&self) -> String {
        format!("{{\"removed\":{}}}", js(&self.0))
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
        let items: Vec<String> = self.0.iter().map(|n| js(n)).collect();
        format!("{{\"removed\":[{}]}}", items.join(","))
    }
}

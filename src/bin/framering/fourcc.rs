//! FourCC codes as V4L2 tools print them (shared with the producer
//! example's camera code).

/// A FourCC `code` (little-endian, as V4L2 stores it) as `v4l2-ctl` prints
/// it: bit 31 marks the big-endian variant of a format (`v4l2_fourcc_be`),
/// shown as a `-BE` suffix; other bytes that are not printable show as `?`.
/// (The `v4l` crate prints such codes as empty strings.)
pub fn fourcc_name(code: u32) -> String {
    let bytes = (code & !(1 << 31)).to_le_bytes();
    let mut name: String =
        bytes.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '?' }).collect();
    if code & (1 << 31) != 0 {
        name.push_str("-BE");
    }
    name
}

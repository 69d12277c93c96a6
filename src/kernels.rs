//! Row kernels that convert pixels to `0xFFRRGGBB` `u32`s (the `convert`
//! module's pixels) straight from memory another process may be writing,
//! a slot's payload, through raw pointers: one pass that reads the source
//! while it converts, where copying a band out first would read it and
//! then convert, one after the other. (A frame in a slice has nothing to
//! copy; the `yuv` crate converts it, a little faster when it is in cache.)
//!
//! Each kernel converts whole blocks of a row (16 or 32 pixels) and says
//! how many pixels that was; `convert` finishes the row with its scalar
//! code, which is also the oracle the tests hold these kernels to.

use crate::format::RowKernel;

/// Converts the first pixels of each row in `dst` (rows of `w` pixels: one,
/// or for NV12 the one or two that share a chroma row) of the payload at
/// `base` (`len` bytes) with `kernel`, reading from `at` (`[first luma or
/// packed row, chroma row]` byte offsets; the next luma row is `stride`
/// bytes on), and returns how many a row: a multiple of the kernel's
/// block. `None`, with nothing written, where this CPU or build has no
/// such kernel or the blocks would read past `len`.
///
/// # Safety
/// `base` must be valid for reads of `len` bytes. They may be written
/// concurrently by another process: they are only loaded into registers,
/// never referenced, and a reader of a slot validates the seqlock after
/// the conversion and discards what was read if the slot changed
/// (docs/FORMAT.md §6), as for a band copied out of it.
pub(crate) unsafe fn rows(
    kernel: RowKernel,
    base: *const u8,
    len: usize,
    at: [usize; 2],
    stride: usize,
    dst: &mut [u32],
    w: usize,
) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", not(loom)))]
    {
        // Byte ranges the whole blocks read, from each offset in `at`.
        let fits = |off: usize, bytes: usize| off.checked_add(bytes).is_some_and(|end| end <= len);
        match kernel {
            RowKernel::Widen24 { rgb } if std::is_x86_feature_detected!("ssse3") => {
                let n = w / 16 * 16;
                if dst.len() != w || !fits(at[0], 3 * n) {
                    return None;
                }
                // SAFETY: bytes at[0]..at[0] + 3n lie within the `len` the
                // caller vouches for (checked just above); SSSE3 was just
                // detected. Concurrent writes: see this function's comment.
                unsafe { widen24_ssse3(base.add(at[0]), &mut dst[..n], rgb) };
                return Some(n);
            }
            RowKernel::Nv12 if std::is_x86_feature_detected!("avx2") => {
                // 32 pixels of each row read 32 luma bytes of it and 16
                // (u, v) pairs of the chroma row.
                let n = w / 32 * 32;
                let (first, second) = dst.split_at_mut(w.min(dst.len()));
                let luma = [at[0], at[0].wrapping_add(stride)];
                if first.len() != w || !fits(luma[0], n) || !fits(at[1], n) {
                    return None;
                }
                if second.is_empty() {
                    // SAFETY: luma bytes luma[0]..+n and chroma bytes
                    // at[1]..+n lie within `len` (checked just above);
                    // AVX2 was just detected. Concurrent writes: as above.
                    unsafe { nv12_avx2([base.add(luma[0])], base.add(at[1]), [&mut first[..n]]) };
                } else if second.len() == w && fits(luma[1], n) {
                    // SAFETY: as for one row, with the second luma row
                    // luma[1]..+n checked as well.
                    unsafe {
                        nv12_avx2(luma.map(|l| base.add(l)), base.add(at[1]), [&mut first[..n], &mut second[..n]])
                    };
                } else {
                    return None;
                }
                return Some(n);
            }
            _ => {}
        }
    }
    let _ = (kernel, base, len, at, stride, dst, w);
    None
}

/// Widens `dst.len()` (a multiple of 16) packed 3-byte pixels from `src`:
/// bytes B, G, R per pixel, or R, G, B with `rgb`. SSSE3 shuffles 16
/// pixels a step.
///
/// # Safety
/// `src` must be valid for reads of `3 * dst.len()` bytes; they may change
/// meanwhile (see [`row`]).
#[cfg(all(target_arch = "x86_64", not(loom)))]
#[target_feature(enable = "ssse3")]
unsafe fn widen24_ssse3(src: *const u8, dst: &mut [u32], rgb: bool) {
    use std::arch::x86_64::{
        __m128i, _mm_alignr_epi8, _mm_loadu_si128, _mm_or_si128, _mm_set1_epi32, _mm_setr_epi8, _mm_shuffle_epi8,
        _mm_srli_si128, _mm_storeu_si128,
    };
    // Four pixels' 12 bytes to four u32s: the source byte for each output
    // byte (-128 sets it to 0; the alpha byte is then ORed in).
    let mask = if rgb {
        _mm_setr_epi8(2, 1, 0, -128, 5, 4, 3, -128, 8, 7, 6, -128, 11, 10, 9, -128)
    } else {
        _mm_setr_epi8(0, 1, 2, -128, 3, 4, 5, -128, 6, 7, 8, -128, 9, 10, 11, -128)
    };
    let alpha = _mm_set1_epi32(0xFF00_0000_u32 as i32);
    for (k, out) in dst.chunks_exact_mut(16).enumerate() {
        // SAFETY: chunk `k` is pixels 16k..16k+16, source bytes 48k..48k+48,
        // within the `3 * dst.len()` the caller vouches for; read as three
        // unaligned 16-byte loads. `out` is 16 u32s, written as four
        // unaligned 16-byte stores. SSSE3 is enabled on this function,
        // which the caller checked the CPU has.
        unsafe {
            let s = src.add(48 * k).cast::<__m128i>();
            let (v0, v1, v2) = (_mm_loadu_si128(s), _mm_loadu_si128(s.add(1)), _mm_loadu_si128(s.add(2)));
            let d = out.as_mut_ptr().cast::<__m128i>();
            // Pixels 0-3 are bytes 0..12 of v0; 4-7 span v0 and v1; 8-11
            // span v1 and v2; 12-15 are bytes 4..16 of v2.
            let quads = [v0, _mm_alignr_epi8::<12>(v1, v0), _mm_alignr_epi8::<8>(v2, v1), _mm_srli_si128::<4>(v2)];
            for (i, q) in quads.into_iter().enumerate() {
                _mm_storeu_si128(d.add(i), _mm_or_si128(alpha, _mm_shuffle_epi8(q, mask)));
            }
        }
    }
}

/// Converts `N` rows (one, or two that share their chroma) of NV12
/// pixels, each `dst[r].len()` long (the same multiple of 32): luma from
/// `y[r]`, one (u, v) byte pair per two pixels from `uv`. BT.601 limited
/// range, as `convert`'s scalar code, in 16-bit lanes with 6 fraction
/// bits: each coefficient is the scalar code's 16-bit one divided by 4 and
/// applied with `pmulhrsw` to the sample shifted up by 7, which is within
/// 1/4 of a fraction unit of the product; the sum is rounded once, at the
/// end. That keeps every pixel within 1 of the scalar code (almost always
/// equal) for samples in the nominal range. Two rows share the chroma
/// arithmetic.
///
/// # Safety
/// `uv` and each `y[r]` must be valid for reads of `dst[r].len()` bytes;
/// they may change meanwhile (see [`rows`]).
#[cfg(all(target_arch = "x86_64", not(loom)))]
#[target_feature(enable = "avx2")]
unsafe fn nv12_avx2<const N: usize>(y: [*const u8; N], uv: *const u8, mut dst: [&mut [u32]; N]) {
    use std::arch::x86_64::{
        __m256i, _mm256_add_epi16, _mm256_adds_epi16, _mm256_and_si256, _mm256_loadu_si256, _mm256_mulhrs_epi16,
        _mm256_packus_epi16, _mm256_permute2x128_si256, _mm256_set1_epi8, _mm256_set1_epi16, _mm256_setzero_si256,
        _mm256_slli_epi16, _mm256_srai_epi16, _mm256_srli_epi16, _mm256_storeu_si256, _mm256_sub_epi16,
        _mm256_subs_epi16, _mm256_subs_epu8, _mm256_unpackhi_epi8, _mm256_unpackhi_epi16, _mm256_unpacklo_epi8,
        _mm256_unpacklo_epi16,
    };
    let zero = _mm256_setzero_si256();
    let k = _mm256_set1_epi16;
    // Half a unit of the result, added to the chroma terms so the final
    // shift rounds.
    let half = k(32);
    let blocks = dst.first().map_or(0, |d| d.len() / 32);
    for i in 0..blocks {
        // SAFETY: block `i` reads chroma bytes 32i..32i+32 (16 pairs),
        // within the `dst[r].len()` bytes the caller vouches for at `uv`,
        // as an unaligned 32-byte load. AVX2 is enabled on this function,
        // which the caller checked the CPU has.
        let c = unsafe { _mm256_loadu_si256(uv.add(32 * i).cast::<__m256i>()) };
        // Pairs 0-7 and 8-15, one per 16-bit lane: u in the low byte, v
        // in the high; both centred on 0 and shifted up by 7.
        let u = _mm256_slli_epi16::<7>(_mm256_sub_epi16(_mm256_and_si256(c, k(0xFF)), k(128)));
        let v = _mm256_slli_epi16::<7>(_mm256_sub_epi16(_mm256_srli_epi16::<8>(c), k(128)));
        // Chroma terms per pair: 1.596 v; -0.391 u - 0.813 v; and 2.017 u
        // as 2 u (u itself, already times 128) + 0.017 u.
        let terms = [
            _mm256_add_epi16(half, _mm256_mulhrs_epi16(v, k(26149))),
            _mm256_subs_epi16(
                _mm256_subs_epi16(half, _mm256_mulhrs_epi16(u, k(6419))),
                _mm256_mulhrs_epi16(v, k(13320)),
            ),
            _mm256_adds_epi16(_mm256_adds_epi16(half, u), _mm256_mulhrs_epi16(u, k(282))),
        ];
        // Each pair's term to its two pixels: unpacklo gives pairs 0-3 and
        // 8-11 (pixels 0-7 and 16-23), unpackhi pairs 4-7 and 12-15.
        let [r, g, b] = terms.map(|t| [_mm256_unpacklo_epi16(t, t), _mm256_unpackhi_epi16(t, t)]);
        for (y, out) in y.iter().zip(dst.iter_mut()) {
            // SAFETY: block `i` reads luma bytes 32i..32i+32 of this row,
            // within the `dst[r].len()` the caller vouches for, as an
            // unaligned 32-byte load.
            let l = unsafe { _mm256_loadu_si256(y.add(32 * i).cast::<__m256i>()) };
            // Luma below black counts as black: max(y, 16) - 16, then as
            // 16-bit lanes, in the order of the chroma terms above.
            let l = _mm256_subs_epu8(l, _mm256_set1_epi8(16));
            let luma = |v: __m256i| _mm256_mulhrs_epi16(_mm256_slli_epi16::<7>(v), k(19077));
            let (y_lo, y_hi) = (luma(_mm256_unpacklo_epi8(l, zero)), luma(_mm256_unpackhi_epi8(l, zero)));
            // Added to luma, rounded and saturated to bytes: packus puts
            // pixels 0-31 in order.
            let channel = |[lo, hi]: [__m256i; 2]| {
                let lo = _mm256_srai_epi16::<6>(_mm256_adds_epi16(y_lo, lo));
                let hi = _mm256_srai_epi16::<6>(_mm256_adds_epi16(y_hi, hi));
                _mm256_packus_epi16(lo, hi)
            };
            let (r, g, b) = (channel(r), channel(g), channel(b));
            // Bytes B, G, R, 255 per pixel, a little-endian 0xFFRRGGBB.
            let opaque = _mm256_set1_epi8(-1);
            let (bg_lo, bg_hi) = (_mm256_unpacklo_epi8(b, g), _mm256_unpackhi_epi8(b, g));
            let (ra_lo, ra_hi) = (_mm256_unpacklo_epi8(r, opaque), _mm256_unpackhi_epi8(r, opaque));
            // Pixels 0-3|16-19, 4-7|20-23, 8-11|24-27, 12-15|28-31.
            let p = [
                _mm256_unpacklo_epi16(bg_lo, ra_lo),
                _mm256_unpackhi_epi16(bg_lo, ra_lo),
                _mm256_unpacklo_epi16(bg_hi, ra_hi),
                _mm256_unpackhi_epi16(bg_hi, ra_hi),
            ];
            let d = out[32 * i..32 * i + 32].as_mut_ptr().cast::<__m256i>();
            // SAFETY: `d` is this block's 32 u32s of the row, written as
            // four unaligned 32-byte stores.
            unsafe {
                _mm256_storeu_si256(d, _mm256_permute2x128_si256::<0x20>(p[0], p[1]));
                _mm256_storeu_si256(d.add(1), _mm256_permute2x128_si256::<0x20>(p[2], p[3]));
                _mm256_storeu_si256(d.add(2), _mm256_permute2x128_si256::<0x31>(p[0], p[1]));
                _mm256_storeu_si256(d.add(3), _mm256_permute2x128_si256::<0x31>(p[2], p[3]));
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{RowKernel, rows};
    use crate::convert::to_0rgb_scalar;
    use crate::{FrameInfo, PixelFormat};

    /// The kernel for `format`, whether this CPU has it, and its block.
    fn kernel_of(format: PixelFormat) -> (RowKernel, bool, usize) {
        match format {
            PixelFormat::Nv12 => (RowKernel::Nv12, std::is_x86_feature_detected!("avx2"), 32),
            _ => (RowKernel::Widen24 { rgb: format == PixelFormat::Rgb24 }, std::is_x86_feature_detected!("ssse3"), 16),
        }
    }

    #[test]
    fn each_kernel_converts_its_whole_blocks_where_the_cpu_has_it_and_refuses_reads_past_the_end() {
        for format in [PixelFormat::Bgr24, PixelFormat::Rgb24, PixelFormat::Nv12] {
            let (kernel, present, block) = kernel_of(format);
            for w in [31usize, 32, 64, 97] {
                let info = FrameInfo::new(w as u32, 2, format);
                let planes = info.planes().unwrap();
                let len = planes.payload_len();
                let bytes: Vec<u8> = (0..len).map(|i| (16 + (i * 37 + w) % 220) as u8).collect();
                let mut oracle = Vec::new();
                to_0rgb_scalar(&info, &bytes, &mut oracle).unwrap();
                let chroma = planes.get(1).map_or(0, |p| p.offset);
                // NV12 converts both rows at once; packed RGB one row.
                let n_rows = if kernel == RowKernel::Nv12 { 2 } else { 1 };
                let mut dst = vec![7u32; n_rows * w];
                // SAFETY: `bytes` is valid for its length and nothing writes it.
                let done = unsafe { rows(kernel, bytes.as_ptr(), len, [0, chroma], planes[0].stride, &mut dst, w) };
                if !present {
                    assert_eq!(done, None, "{format}");
                    continue;
                }
                let n = w / block * block;
                assert_eq!(done, Some(n), "{format} {w}");
                for r in 0..n_rows {
                    for x in 0..w {
                        let (got, want) = (dst[r * w + x], oracle[r * w + x]);
                        if x >= n {
                            assert_eq!(got, 7, "{format} {w}: pixel {x} of row {r} is past the blocks");
                            continue;
                        }
                        let diff = (0..4).map(|c| ((got >> (8 * c)) & 255).abs_diff((want >> (8 * c)) & 255)).max();
                        assert!(
                            diff <= Some(u32::from(kernel == RowKernel::Nv12)),
                            "{format} {w}: {got:08x} {want:08x}"
                        );
                    }
                }
                // One byte short of the last range the blocks read (the
                // packed row's, or NV12's chroma row, after both luma
                // rows): refused, nothing written.
                let end = if kernel == RowKernel::Nv12 { chroma + n } else { 3 * n };
                let mut untouched = vec![7u32; n_rows * w];
                // SAFETY: as above, over fewer bytes.
                let done =
                    unsafe { rows(kernel, bytes.as_ptr(), end - 1, [0, chroma], planes[0].stride, &mut untouched, w) };
                assert_eq!(done, None, "{format} {w}: a read past the end");
                assert!(untouched.iter().all(|&p| p == 7), "{format} {w}");
            }
        }
    }
}

//! In-process throughput: publishing and reading frames of several sizes,
//! each beside a plain `memcpy` of the same bytes, and the pixel conversions.
//!
//! `cargo bench --bench ring`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use framering::{Consumer, FrameBuf, FrameInfo, PixelFormat, Producer, RingConfig, convert};

/// (label, frame) pairs: 64 B, 4 KiB, 640x480, 1920x1080 and 3840x2160 BGR.
fn sizes() -> Vec<(&'static str, FrameInfo)> {
    vec![
        ("64B", FrameInfo::new(8, 8, PixelFormat::Gray8)),
        ("4KiB", FrameInfo::new(64, 64, PixelFormat::Gray8)),
        ("640x480", FrameInfo::new(640, 480, PixelFormat::Bgr24)),
        ("1920x1080", FrameInfo::new(1920, 1080, PixelFormat::Bgr24)),
        ("3840x2160", FrameInfo::new(3840, 2160, PixelFormat::Bgr24)),
    ]
}

fn ring(c: &mut Criterion) {
    for (label, info) in sizes() {
        let len = info.payload_len().unwrap().unwrap();
        let name = format!("bench-ring-{}-{label}", std::process::id());
        let mut tx = Producer::create(&name, RingConfig::new(4, len)).unwrap();
        let mut rx = Consumer::open(&name).unwrap();
        let src: Vec<u8> = (0..len).map(|i| i as u8).collect();
        // The memcpy reference writes to as many buffers as the ring has
        // slots, in turn, so both touch the same amount of memory.
        let mut dst: Vec<Vec<u8>> = (0..4).map(|_| vec![0u8; len]).collect();
        let mut turn = 0;
        let mut buf = FrameBuf::with_capacity(len);

        let mut group = c.benchmark_group(format!("ring/{label}"));
        group.throughput(Throughput::Bytes(len as u64));
        if len > 1 << 20 {
            group.sample_size(20).measurement_time(Duration::from_secs(3));
        }
        group.bench_function("memcpy", |b| {
            b.iter(|| {
                turn = (turn + 1) % dst.len();
                dst[turn].copy_from_slice(black_box(&src))
            })
        });
        group.bench_function("publish (copy in)", |b| b.iter(|| tx.publish(info, black_box(&src)).unwrap()));
        group.bench_function("publish via loan (write in place)", |b| {
            b.iter(|| {
                let mut loan = tx.loan(info).unwrap();
                loan.pixels_mut().copy_from_slice(black_box(&src));
                loan.commit().unwrap()
            })
        });
        group.bench_function("try_latest (copy out)", |b| {
            b.iter_batched(
                || tx.publish(info, &src).unwrap(),
                |_| rx.try_latest(&mut buf).unwrap().unwrap(),
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }
}

/// Each format at 1080p through the SIMD path and the scalar reference,
/// side by side; then the display path of a frame in a ring: copied out
/// and converted, or converted straight from its slot.
fn conversions(c: &mut Criterion) {
    let (w, h) = (1920u32, 1080u32);
    let mut group = c.benchmark_group("convert/1920x1080");
    group.throughput(Throughput::Elements(u64::from(w * h))).sample_size(30);
    let mut out = Vec::with_capacity((w * h) as usize);
    for format in [PixelFormat::Bgr24, PixelFormat::Yuyv, PixelFormat::Nv12, PixelFormat::I420, PixelFormat::Gray8] {
        let info = FrameInfo::new(w, h, format);
        let src: Vec<u8> = (0..info.payload_len().unwrap().unwrap()).map(|i| (i * 7) as u8).collect();
        group.bench_function(format!("{format} to 0RGB (scalar)"), |b| {
            b.iter(|| convert::to_0rgb_scalar(&info, black_box(&src), &mut out).unwrap())
        });
        group.bench_function(format!("{format} to 0RGB"), |b| {
            b.iter(|| convert::to_0rgb(&info, black_box(&src), &mut out).unwrap())
        });
    }
    group.finish();

    let mut group = c.benchmark_group("display/1920x1080");
    group.throughput(Throughput::Elements(u64::from(w * h))).sample_size(30);
    for format in [PixelFormat::Bgr24, PixelFormat::Nv12] {
        let info = FrameInfo::new(w, h, format);
        let len = info.payload_len().unwrap().unwrap();
        let src: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let name = format!("bench-display-{}-{format}", std::process::id());
        let mut tx = Producer::create(&name, RingConfig::new(4, len)).unwrap();
        let mut rx = Consumer::open(&name).unwrap();
        let mut buf = FrameBuf::with_capacity(len);
        group.bench_function(format!("{format}: copy out, then convert"), |b| {
            b.iter_batched(
                || tx.publish(info, &src).unwrap(),
                |_| {
                    let meta = rx.try_latest(&mut buf).unwrap().unwrap();
                    convert::to_0rgb(&meta.info, &buf, &mut out).unwrap()
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_function(format!("{format}: convert from the slot"), |b| {
            b.iter_batched(
                || tx.publish(info, &src).unwrap(),
                |_| rx.try_latest_with(|frame| convert::frame_to_0rgb(frame, &mut out)).unwrap().unwrap().1.unwrap(),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, ring, conversions);
criterion_main!(benches);

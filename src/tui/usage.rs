//! What the lab's process uses, for the tab bar: CPU (as `top` counts it: 100% a core), the
//! resident memory, and — while a run trains on CUDA — the GPU's utilisation and memory.
//!
//! Sampled at most once per [`EVERY`] from the loop's tick, cheaply: two small reads of
//! `/proc/self/stat` and `/proc/self/statm` (Linux; elsewhere nothing is shown). The GPU is
//! asked on a thread of its own (`nvidia-smi --query-gpu`, killed past [`GPU_TIMEOUT`]; the
//! driver's free/total memory when `nvidia-smi` is missing), so a slow driver never stalls a
//! frame.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::strings as s;
use super::text::width;

/// How often the process is sampled.
pub const EVERY: Duration = Duration::from_secs(1);
/// How often the GPU is asked.
pub const GPU_EVERY: Duration = Duration::from_secs(2);
/// How long `nvidia-smi` may take before it is killed.
pub const GPU_TIMEOUT: Duration = Duration::from_secs(3);

/// The GPU a run trains on, as last seen.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Gpu {
    /// Utilisation in percent (`None` when only the memory is known).
    pub util: Option<f64>,
    pub used_bytes: u64,
    pub total_bytes: u64,
}

/// The latest sample; fields are `None` until known.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    /// CPU time over wall time since the previous sample, in percent of one core.
    pub cpu: Option<f64>,
    /// Resident set size.
    pub rss_bytes: Option<u64>,
    /// Only while a run trains on CUDA.
    pub gpu: Option<Gpu>,
}

/// `1.2G`, `640M`, `12K`: a size in a few columns (powers of 1024, as `top` shows them).
pub fn size(bytes: u64) -> String {
    let units = ["K", "M", "G", "T"];
    let mut v = bytes as f64 / 1024.0;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if v < 10.0 && u > 0 {
        format!("{v:.1}{}", units[u])
    } else {
        format!("{v:.0}{}", units[u])
    }
}

impl Usage {
    /// The tab bar's elements, most important first: `cpu 183%`, `mem 1.2G`, `gpu 45% 3.1/80G`.
    pub fn elements(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(c) = self.cpu {
            out.push(format!("{} {c:.0}%", s::USAGE_CPU));
        }
        if let Some(r) = self.rss_bytes {
            out.push(format!("{} {}", s::USAGE_MEM, size(r)));
        }
        if let Some(g) = self.gpu {
            let mem = format!("{}/{}", size(g.used_bytes), size(g.total_bytes));
            out.push(match g.util {
                Some(u) => format!("{} {u:.0}% {mem}", s::USAGE_GPU),
                None => format!("{} {mem}", s::USAGE_GPU),
            });
        }
        out
    }

    /// The elements that fit in `room` columns, whole, joined by two spaces: an element that
    /// does not fit is dropped (a number is never cut), and so are the ones after it.
    pub fn line(&self, room: usize) -> String {
        let mut out = String::new();
        for e in self.elements() {
            let add = if out.is_empty() {
                width(&e)
            } else {
                width(&e) + 2
            };
            if width(&out) + add > room {
                break;
            }
            if !out.is_empty() {
                out.push_str("  ");
            }
            out.push_str(&e);
        }
        out
    }
}

/// CPU ticks (user + system) of this process, from `/proc/self/stat`.
fn cpu_ticks() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat_ticks(&text)
}

/// utime + stime of a `/proc/<pid>/stat` line: fields 14 and 15, counted after the command
/// name's closing parenthesis (the name may hold spaces).
pub fn parse_stat_ticks(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After `)`: state is field 3, so utime (14) is index 11 and stime (15) index 12.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Resident pages of `/proc/self/statm` (its second field) in bytes.
pub fn parse_statm_rss(text: &str, page: u64) -> Option<u64> {
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page)
}

fn rss_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    parse_statm_rss(&text, u64::try_from(page).ok().filter(|p| *p > 0)?)
}

fn ticks_per_sec() -> Option<f64> {
    // SAFETY: sysconf only reads a system constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (t > 0).then_some(t as f64)
}

/// Samples the process from the loop's tick, and the GPU from a thread while asked to.
pub struct Sampler {
    last: Option<(Instant, u64)>,
    tick_hz: Option<f64>,
    pub usage: Usage,
    gpu: Option<GpuWatch>,
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler::new()
    }
}

impl Sampler {
    pub fn new() -> Sampler {
        Sampler {
            last: None,
            tick_hz: ticks_per_sec(),
            usage: Usage::default(),
            gpu: None,
        }
    }

    /// Takes a sample when [`EVERY`] has passed since the last one; `cuda` says whether a run
    /// trains on CUDA now (the GPU is watched only then). Returns whether the usage changed.
    pub fn tick(&mut self, now: Instant, cuda: bool) -> bool {
        match (cuda, &self.gpu) {
            (true, None) => self.gpu = Some(GpuWatch::spawn()),
            (false, Some(_)) => self.gpu = None,
            _ => {}
        }
        let before = self.usage;
        self.usage.gpu = self.gpu.as_ref().and_then(GpuWatch::latest);
        if self
            .last
            .is_none_or(|(t, _)| now.saturating_duration_since(t) >= EVERY)
        {
            if let Some(ticks) = cpu_ticks() {
                if let (Some((t0, k0)), Some(hz)) = (self.last, self.tick_hz) {
                    let secs = now.saturating_duration_since(t0).as_secs_f64();
                    if secs > 0.0 {
                        let cpu = ticks.saturating_sub(k0) as f64 / hz / secs * 100.0;
                        self.usage.cpu = Some(cpu);
                    }
                }
                self.last = Some((now, ticks));
            }
            self.usage.rss_bytes = rss_bytes();
        }
        self.usage != before
    }
}

/// The GPU thread: asks every [`GPU_EVERY`] until dropped.
struct GpuWatch {
    latest: Arc<Mutex<Option<Gpu>>>,
    stop: Arc<AtomicBool>,
}

impl GpuWatch {
    fn spawn() -> GpuWatch {
        let latest = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, st) = (latest.clone(), stop.clone());
        let spawned = std::thread::Builder::new()
            .name("gpu-usage".into())
            .spawn(move || {
                while !st.load(Ordering::Relaxed) {
                    let g = nvidia_smi().or_else(driver_memory);
                    if let Ok(mut slot) = l.lock() {
                        *slot = g;
                    }
                    let until = Instant::now() + GPU_EVERY;
                    while Instant::now() < until && !st.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            });
        if spawned.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        GpuWatch { latest, stop }
    }

    fn latest(&self) -> Option<Gpu> {
        self.latest.lock().ok().and_then(|g| *g)
    }
}

impl Drop for GpuWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// `45, 3172, 81559` (utilisation %, used MiB, total MiB) of GPU 0 from `nvidia-smi`, which
/// is killed when it takes longer than [`GPU_TIMEOUT`].
fn nvidia_smi() -> Option<Gpu> {
    let mut child = Command::new("nvidia-smi")
        .args([
            "--query-gpu=utilization.gpu,memory.used,memory.total",
            "--format=csv,noheader,nounits",
            "--id=0",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + GPU_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let out = child.wait_with_output().ok()?;
    out.status
        .success()
        .then(|| parse_nvidia_smi(&String::from_utf8_lossy(&out.stdout)))
        .flatten()
}

/// The first line of `nvidia-smi --query-gpu=utilization.gpu,memory.used,memory.total
/// --format=csv,noheader,nounits`.
pub fn parse_nvidia_smi(text: &str) -> Option<Gpu> {
    let f: Vec<&str> = text.lines().next()?.split(',').map(str::trim).collect();
    let mib = |s: &str| s.parse::<f64>().ok().map(|v| (v * 1024.0 * 1024.0) as u64);
    Some(Gpu {
        util: f.first()?.parse().ok(),
        used_bytes: mib(f.get(1)?)?,
        total_bytes: mib(f.get(2)?)?,
    })
}

/// The memory the CUDA driver reports (the `cuda` feature's cudarc), without utilisation.
fn driver_memory() -> Option<Gpu> {
    let (free, total) = crate::model::device::cuda_memory().ok()?;
    Some(Gpu {
        util: None,
        used_bytes: total.saturating_sub(free),
        total_bytes: total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_lines() {
        let stat = "4242 (ada lab) S 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0 9 0 100 0";
        assert_eq!(parse_stat_ticks(stat), Some(325));
        assert_eq!(
            parse_statm_rss("9000 300 20 1 0 50 0", 4096),
            Some(300 * 4096)
        );
        let g = parse_nvidia_smi("45, 3172, 81559\n").unwrap();
        assert_eq!(g.util, Some(45.0));
        assert_eq!(size(g.total_bytes), "80G");
        assert_eq!(size(g.used_bytes), "3.1G");
        // A GPU that does not report its utilisation still shows its memory.
        let g = parse_nvidia_smi("[N/A], 10, 20").unwrap();
        assert_eq!(
            (g.util, g.used_bytes, g.total_bytes),
            (None, 10 << 20, 20 << 20)
        );
    }

    #[test]
    fn this_process_is_sampled() {
        let mut sm = Sampler::new();
        let t0 = Instant::now();
        sm.tick(t0, false);
        assert!(sm.usage.rss_bytes.is_some_and(|r| r > 0));
        // Not sampled again within a second; then the CPU share is known.
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        sm.tick(t0 + Duration::from_millis(10), false);
        assert_eq!(sm.usage.cpu, None);
        sm.tick(t0 + Duration::from_secs(1), false);
        assert!(sm.usage.cpu.is_some_and(|c| c >= 0.0));
        assert_eq!(sm.usage.gpu, None);
    }

    #[test]
    fn elements_drop_whole_never_cut() {
        let u = Usage {
            cpu: Some(183.4),
            rss_bytes: Some(1_288_490_189),
            gpu: Some(Gpu {
                util: Some(45.0),
                used_bytes: 3172 << 20,
                total_bytes: 81559 << 20,
            }),
        };
        assert_eq!(u.line(80), "cpu 183%  rss 1.2G  gpu 45% 3.1G/80G");
        assert_eq!(u.line(20), "cpu 183%  rss 1.2G");
        assert_eq!(u.line(9), "cpu 183%");
        assert_eq!(u.line(5), "");
    }
}

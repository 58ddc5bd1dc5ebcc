//! `adalab bench --check`: the device parity check's report (see `model::parity`).

use std::io::Write;
use std::time::Instant;

use anyhow::bail;

use crate::config::DeviceKind;
use crate::model::parity::{check_parity, NET_TOLERANCE, OP_TOLERANCE, STEPS};

/// Runs the check on `device` and prints one line per compared quantity and a verdict; an
/// error (exit status 1) when a difference is beyond its tolerance.
pub fn run(
    out: &mut impl Write,
    pool: &rayon::ThreadPool,
    device: DeviceKind,
) -> anyhow::Result<()> {
    let what = match device {
        DeviceKind::Cpu => "ops: generic path (what CUDA runs) vs CPU kernels; net: CPU twice",
        DeviceKind::Cuda => "ops and net: CUDA vs CPU kernels",
    };
    writeln!(
        out,
        "check device={device} reference=cpu ({what}); tolerances: ops {OP_TOLERANCE:e} of the \
         largest reference value, net {NET_TOLERANCE:e} (loss, logits), parameters 2·{STEPS}·lr"
    )?;
    let t0 = Instant::now();
    let report = pool.install(|| check_parity(device))?;
    for d in &report.diffs {
        writeln!(
            out,
            "check {:<58} diff={:.2e} tolerance={:.0e} {}",
            d.what,
            d.diff,
            d.tolerance,
            if d.ok() { "ok" } else { "FAIL" }
        )?;
    }
    let failed = report.diffs.iter().filter(|d| !d.ok()).count();
    let worst = report
        .worst()
        .map(|d| format!("{} ({:.2e})", d.what, d.diff))
        .unwrap_or_default();
    writeln!(
        out,
        "check result={} compared={} failed={failed} worst={worst} seconds={:.1}",
        if failed == 0 { "pass" } else { "fail" },
        report.diffs.len(),
        t0.elapsed().as_secs_f64()
    )?;
    if failed > 0 {
        bail!(
            "{device} differs from the CPU beyond tolerance in {failed} of {} checks",
            report.diffs.len()
        );
    }
    Ok(())
}

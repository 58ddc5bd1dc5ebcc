//! The linear layer `x · w + b` ([`linear`]) on the AVX-512 micro-kernel of [`pack`], where the
//! `gemm` crate runs AVX2 on stable Rust. Its operands are read where they lie (A through its
//! strides, B's rows in place), so only `wᵀ` of the input gradient is packed; row panels of C
//! run in parallel.

use super::pack::{self, MR, NR};
use super::{give, read, take};
use crate::model::ops::{T1, T2};
use dfdx::prelude::*;
use rayon::prelude::*;

/// B of [`mm`]: rows of a row-major matrix (row stride given), or panels packed by
/// [`pack::pack_b_into`].
enum B<'a> {
    Rows(&'a [f32], usize),
    Panels(&'a [f32]),
}

/// C (m × n, row-major) (+)= A · B, A's element (i, j) at `a.0[i·a.1 + j·a.2]`.
fn mm((m, n, k): (usize, usize, usize), a: (&[f32], usize, usize), b: B, c: &mut [f32], acc: bool) {
    assert!(c.len() == m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !acc {
            c.fill(0.0);
        }
        return;
    }
    let (av, rsa, csa) = a;
    // About four tasks per thread (a row panel alone can be too little work for a task).
    let per = m.div_ceil(MR).div_ceil(4 * super::threads()).max(1);
    c.par_chunks_mut(MR * n)
        .enumerate()
        .with_min_len(per)
        .for_each(|(ip, cr)| {
            let rows = MR.min(m - ip * MR);
            let ap = (&av[ip * MR * rsa..], rsa, csa);
            for jp in 0..n.div_ceil(NR) {
                let cols = NR.min(n - jp * NR);
                let bp = match b {
                    B::Rows(bv, ldb) => (&bv[jp * NR..], ldb),
                    B::Panels(bv) => (&bv[jp * k * NR..(jp + 1) * k * NR], NR),
                };
                let ct = &mut cr[jp * NR..];
                pack::tile_strided(k, ap, bp, ct, n, rows, cols, acc);
            }
        });
}

/// y (N, D) = x (N, F) · w (F, D) + b (D); see [`crate::model::ops::OpsDevice::linear`].
pub(crate) fn linear<T: Tape<f32, Cpu>>(
    x: T2<Cpu, T>,
    w: &T2<Cpu>,
    b: &T1<Cpu>,
) -> Result<T2<Cpu, T>, CpuError> {
    let (n, f) = *x.shape();
    let (f2, d) = *w.shape();
    assert_eq!(f, f2, "linear: input {:?} · weight {:?}", (n, f), (f2, d));
    assert_eq!(
        b.shape().0,
        d,
        "linear: bias has {} entries, expected {d}",
        b.shape().0
    );
    // A no-op for contiguous inputs; makes a (taped) contiguous copy otherwise.
    let x = x.try_reshape_like(&(n, f))?;
    let (x, tape) = x.split_tape();
    let (xv, wv, bv) = (read(&x), read(w), read(b));
    // Every element is written: a recycled buffer needs no clearing.
    let mut y = take(n * d);
    mm((n, d, f), (&xv, f, 1), B::Rows(&wv, d), &mut y, false);
    for row in y.chunks_exact_mut(d) {
        row.iter_mut().zip(&bv).for_each(|(y, b)| *y += b);
    }
    let out = x.device().try_tensor_from_vec(y, (n, d))?;
    if !T::OWNS_TAPE {
        give(xv);
        give(wv);
        return Ok(out.put_tape(tape));
    }
    let (x_ghost, w_ghost, b_ghost, out_ghost) = (x.ghost(), w.ghost(), b.ghost(), out.ghost());
    drop(x);
    let mut tape = tape;
    tape.add_backward_op(move |grads| {
        let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&out_ghost)?);
        // dw (F × D) += xᵀ · dy: xᵀ read through its strides.
        let gw: &mut [f32] = grads.get_or_alloc_mut(&w_ghost)?;
        mm((f, d, n), (&xv, 1, f), B::Rows(&gy, d), gw, true);
        let gb: &mut [f32] = grads.get_or_alloc_mut(&b_ghost)?;
        for row in gy.chunks_exact(d) {
            gb.iter_mut().zip(row).for_each(|(g, v)| *g += v);
        }
        // dx (N × F) += dy · wᵀ, wᵀ packed once.
        let mut wt = take(f.div_ceil(NR) * NR * d);
        pack::pack_b_into(&wv, 1, d, d, f, &mut wt);
        let gx: &mut [f32] = grads.get_or_alloc_mut(&x_ghost)?;
        mm((n, f, d), (&gy, d, 1), B::Panels(&wt), gx, true);
        **grads.get_or_alloc_mut(&out_ghost)? = gy;
        give(wt);
        give(xv);
        give(wv);
        Ok(())
    });
    Ok(out.put_tape(tape))
}

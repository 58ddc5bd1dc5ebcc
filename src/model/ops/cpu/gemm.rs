//! The `gemm` crate behind one strided wrapper, and the choice between it and the packed
//! AVX-512 GEMM ([`pack`]).

use super::pack;
use gemm::{gemm, Parallelism};

/// A read-only strided matrix view: `rows × cols`, element (i, j) at `data[i·rs + j·cs]`.
#[derive(Clone, Copy)]
pub(super) struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> Mat<'a> {
    /// `data` as a row-major `rows × cols` matrix.
    pub(super) fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "Mat: {rows}×{cols} needs more data"
        );
        Self {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose (no copy: swaps the shape and the strides).
    pub(super) fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }
}

/// `dst (m×n, row-major) (+)= A (m×k) · B (k×n)`; adds to `dst` when `acc`, else overwrites it.
pub(super) fn mm(dst: &mut [f32], a: Mat, b: Mat, acc: bool, par: Parallelism) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(a.cols == b.rows && dst.len() >= m * n);
    // SAFETY: `Mat::new` checked that each operand's data covers its rows × cols (so every
    // element reached through its strides, transposed or not), and `dst` covers m × n.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            acc,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

/// GEMM parallelism inside one of `tasks` parallel tasks: none when the tasks alone keep every
/// rayon thread busy, else all threads (e.g. batch 1 at inference).
pub(super) fn inner_par(tasks: usize) -> Parallelism {
    let threads = super::threads();
    if tasks >= threads {
        Parallelism::None
    } else {
        Parallelism::Rayon(threads)
    }
}

/// Whether to use the packed AVX-512 GEMM ([`pack`]): when it is available and each task runs
/// its GEMMs single-threaded.
pub(super) fn use_packed(par: Parallelism) -> bool {
    pack::available() && matches!(par, Parallelism::None)
}

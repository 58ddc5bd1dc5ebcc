//! The dfdx calls of the device-generic path, checked against what dfdx 0.13's CUDA kernels
//! require, on every device.
//!
//! dfdx's CPU kernels accept layouts its CUDA kernels reject (or mishandle), so a generic op
//! can pass every CPU test and crash on its first CUDA step. The generic ops, the heads and the
//! embedding layer therefore make the calls below through this layer, which asserts the CUDA
//! preconditions on the CPU too (a violation panics, naming the op and the caller, in any
//! test that runs the generic path):
//!
//! * **matmul** (`matmul/cuda_kernel.rs`): cuBLAS needs a unit stride in each matrix
//!   (`matrix_strides` panics "At least a single stride must be 1 for cublas"), and the batched
//!   forms assert a non-zero batch stride (`assert_ne!(lhs.strides[0], 0)`): a weight broadcast
//!   over the batch is illegal.
//! * **reshape** of a non-contiguous tensor: dfdx compiles its copy kernel with NVRTC at run
//!   time, against `CUDA_INCLUDE_DIR` and `OUT_DIR` — paths on the *build* machine, absent on a
//!   GPU box that only received the binary — and unwraps the result. Only contiguous
//!   reshapes (no kernel) are legal; layout changes are gathers with a cached index table.
//!   (`concat`, `stack` and `to_dtype` compile with NVRTC the same way; nothing here uses them.)
//! * **gather** (`select_and_gather/gather.cu`): the CUDA kernel does not bound-check its
//!   indices (the CPU one panics); [`IndexTable`] checks them once, when it is built.
//!
//! The rest of what the generic path, the heads and the optimiser call — element-wise unary and
//! binary ops with broadcasting, sum/mean/max reductions, `permute`, `broadcast` — has no
//! layout precondition in dfdx 0.13's CUDA kernels (they take any strides; binary ops write a
//! contiguous output, unary ops keep their input's strides).
//!
//! dfdx keeps a tensor's strides private, so [`Laid`] carries them beside the tensor, computed
//! the way dfdx lays tensors out: an op's output or a parameter is contiguous, `permute`
//! permutes the strides, `broadcast` gives new axes a stride of 0.

use dfdx::prelude::*;
use dfdx::shapes::{Axes, BroadcastShapeTo, HasShape};

/// A tensor and its strides (as dfdx lays it out on every device).
pub struct Laid<S: Shape, D: Storage<f32>, T = NoneTape> {
    pub t: Tensor<S, f32, D, T>,
    strides: S::Concrete,
}

impl<S: Shape, D: Storage<f32>, T> Laid<S, D, T> {
    /// A parameter or the output of an op that writes a fresh contiguous buffer (every dfdx op
    /// but `permute`, `broadcast` and unary ops on a non-contiguous input).
    pub fn fresh(t: Tensor<S, f32, D, T>) -> Self {
        let strides = t.shape().strides();
        Laid { t, strides }
    }

    pub fn strides(&self) -> S::Concrete {
        self.strides
    }

    pub fn is_contiguous(&self) -> bool {
        self.strides == self.t.shape().strides()
    }

    pub fn into_inner(self) -> Tensor<S, f32, D, T> {
        self.t
    }
}

fn violation(op: &str, caller: &str, what: String) -> ! {
    panic!(
        "CUDA precondition violated by {op} (in {caller}): {what}. dfdx's CUDA kernel would \
         crash or misbehave here; the CPU kernel tolerates it."
    )
}

/// The transpose of a matrix (no copy: the strides are swapped).
pub fn permute2<D: Device<f32>, T: Tape<f32, D>>(
    x: Laid<(usize, usize), D, T>,
) -> Result<Laid<(usize, usize), D, T>, D::Err> {
    let [a, b] = x.strides;
    Ok(Laid {
        t: x.t.try_permute::<_, Axes2<1, 0>>()?,
        strides: [b, a],
    })
}

/// `broadcast_like` with the strides it gives (0 on the new axes `Ax`).
pub fn broadcast<S: Shape, Dst: Shape, Ax: Axes, D: Device<f32>, T: Tape<f32, D>>(
    x: Laid<S, D, T>,
    dst: &Dst,
) -> Result<Laid<Dst, D, T>, D::Err>
where
    S: BroadcastShapeTo<Dst, Ax>,
    Dst: HasShape<Shape = Dst>,
{
    let new_axes: Vec<usize> = Ax::as_array().into_iter().map(|a| a as usize).collect();
    let mut strides: Dst::Concrete = Default::default();
    let mut src = x.strides.into_iter();
    for i in 0..Dst::NUM_DIMS {
        strides[i] = if new_axes.contains(&i) {
            0
        } else {
            src.next().unwrap_or(0)
        };
    }
    Ok(Laid {
        t: x.t.try_broadcast_like::<Dst, Ax>(dst)?,
        strides,
    })
}

/// `reshape_like` of a contiguous tensor (legal: no kernel). A non-contiguous input would make
/// dfdx's CUDA path compile a kernel with NVRTC at run time (see the module docs).
pub fn reshape<S: Shape, Dst: Shape, D: Device<f32>, T: Tape<f32, D>>(
    caller: &str,
    x: Laid<S, D, T>,
    dst: Dst,
) -> Result<Laid<Dst, D, T>, D::Err> {
    if !x.is_contiguous() {
        violation(
            "reshape",
            caller,
            format!(
                "the input {:?} is not contiguous (strides {:?}): dfdx would build its copy \
                 kernel with NVRTC at run time, against include paths of the build machine",
                x.t.shape().concrete(),
                x.strides
            ),
        );
    }
    Ok(Laid::fresh(x.t.try_reshape_like(&dst)?))
}

/// What cuBLAS accepts for one matrix (dfdx's `matrix_strides`): a unit stride somewhere.
fn check_matrix(caller: &str, side: &str, shape: [usize; 2], strides: [usize; 2]) {
    if strides[0] != 1 && strides[1] != 1 {
        violation(
            "matmul",
            caller,
            format!(
                "the {side} matrix {shape:?} has strides {strides:?}; cuBLAS needs a unit \
                 stride in one of them"
            ),
        );
    }
}

/// A 2-D matrix product `(M, K) × (K, N)`.
pub fn matmul<D: Device<f32>, T, R>(
    caller: &str,
    lhs: Laid<(usize, usize), D, T>,
    rhs: Laid<(usize, usize), D, R>,
) -> Result<Laid<(usize, usize), D, T>, D::Err>
where
    T: Tape<f32, D> + Merge<R>,
    R: Tape<f32, D>,
{
    check_matrix(caller, "left", lhs.t.shape().concrete(), lhs.strides);
    check_matrix(caller, "right", rhs.t.shape().concrete(), rhs.strides);
    Ok(Laid::fresh(lhs.t.try_matmul(rhs.t)?))
}

/// A batched matrix product `(B, M, K) × (B, K, N)`: cuBLAS's strided batched GEMM, which dfdx
/// only calls with a non-zero batch stride on both sides.
pub fn matmul_batched<D: Device<f32>, T, R>(
    caller: &str,
    lhs: Laid<(usize, usize, usize), D, T>,
    rhs: Laid<(usize, usize, usize), D, R>,
) -> Result<Laid<(usize, usize, usize), D, T>, D::Err>
where
    T: Tape<f32, D> + Merge<R>,
    R: Tape<f32, D>,
{
    for (side, l) in [("left", lhs.strides), ("right", rhs.strides)] {
        if l[0] == 0 {
            violation(
                "matmul",
                caller,
                format!(
                    "the {side} operand has batch stride 0 (broadcast over the batch, strides \
                     {l:?}); dfdx's CUDA batched matmul asserts a non-zero batch stride"
                ),
            );
        }
    }
    let (_, m, k) = *lhs.t.shape();
    let (_, _, n) = *rhs.t.shape();
    check_matrix(caller, "left", [m, k], [lhs.strides[1], lhs.strides[2]]);
    check_matrix(caller, "right", [k, n], [rhs.strides[1], rhs.strides[2]]);
    Ok(Laid::fresh(lhs.t.try_matmul(rhs.t)?))
}

/// Indices for [`gather`], checked against the length of the source they index (the CUDA
/// gather kernel reads out of bounds where the CPU one panics).
#[derive(Clone, Debug)]
pub struct IndexTable<D: Storage<usize>> {
    pub idx: Tensor<(usize,), usize, D>,
    pub src_len: usize,
}

impl<D: Device<f32> + Storage<usize>> IndexTable<D> {
    /// Uploads `idx` after checking every entry is below `src_len`.
    pub fn new(caller: &str, dev: &D, idx: Vec<usize>, src_len: usize) -> Result<Self, D::Err> {
        if let Some((i, &v)) = idx.iter().enumerate().find(|(_, &v)| v >= src_len) {
            violation(
                "gather",
                caller,
                format!("index {i} is {v}, past the source's {src_len} values"),
            );
        }
        let len = idx.len();
        Ok(IndexTable {
            idx: dev.try_tensor_from_vec(idx, (len,))?,
            src_len,
        })
    }

    pub fn len(&self) -> usize {
        self.idx.shape().0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `src[idx[i]]` for every `i` (gradients scatter-add back into `src`).
pub fn gather<D: Device<f32>, T: Tape<f32, D>>(
    caller: &str,
    src: Laid<(usize,), D, T>,
    table: &IndexTable<D>,
) -> Result<Laid<(usize,), D, T>, D::Err> {
    let len = src.t.shape().0;
    if len != table.src_len {
        violation(
            "gather",
            caller,
            format!(
                "the index table was built for a source of {} values, this one has {len}",
                table.src_len
            ),
        );
    }
    Ok(Laid::fresh(src.t.try_gather(table.idx.clone())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> Cpu {
        Cpu::seed_from_u64(0)
    }

    fn t2(dev: &Cpu, r: usize, c: usize) -> Tensor<(usize, usize), f32, Cpu> {
        dev.tensor_from_vec((0..r * c).map(|i| i as f32 * 0.5).collect(), (r, c))
    }

    /// The generic conv before this layer existed: the weight broadcast over the batch into a
    /// batched matmul. The CPU kernel computes it; dfdx's CUDA kernel asserts on it.
    #[test]
    #[should_panic(expected = "CUDA precondition violated by matmul (in conv3x3)")]
    fn a_weight_broadcast_over_the_batch_is_refused_naming_the_op() {
        let dev = dev();
        let w = Laid::fresh(t2(&dev, 4, 18));
        let cols: Tensor<(usize, usize, usize), f32, Cpu> = dev.zeros_like(&(3, 18, 25));
        let w = broadcast::<_, _, Axis<0>, _, _>(w, &(3, 4, 18)).unwrap();
        assert_eq!(w.strides(), [0, 18, 1]);
        let _ = matmul_batched("conv3x3", w, Laid::fresh(cols));
    }

    #[test]
    fn batched_matmul_with_real_batch_strides_is_legal() {
        let dev = dev();
        let a: Tensor<(usize, usize, usize), f32, Cpu> = dev.ones_like(&(3, 4, 5));
        let b: Tensor<(usize, usize, usize), f32, Cpu> = dev.ones_like(&(3, 5, 2));
        let y = matmul_batched("test", Laid::fresh(a), Laid::fresh(b)).unwrap();
        assert_eq!(y.t.as_vec(), vec![5.0; 3 * 4 * 2]);
    }

    #[test]
    #[should_panic(expected = "CUDA precondition violated by matmul (in head)")]
    fn a_matrix_without_a_unit_stride_is_refused() {
        let dev = dev();
        let v: Tensor<(usize,), f32, Cpu> = dev.ones_like(&(4,));
        // A broadcast column (strides [1, 0]) is legal; the same matrix read with strides
        // [2, 3] (no unit stride, as a strided view would be) is not.
        let col = broadcast::<_, _, Axis<1>, _, _>(Laid::fresh(v), &(4, 3)).unwrap();
        assert_eq!(col.strides(), [1, 0]);
        let bad = Laid {
            strides: [2, 3],
            ..col
        };
        let _ = matmul("head", Laid::fresh(t2(&dev, 2, 4)), bad);
    }

    #[test]
    fn transposed_and_broadcast_matrices_are_legal_and_match_plain_matmul() {
        let dev = dev();
        let a = t2(&dev, 3, 4);
        let b = t2(&dev, 5, 4);
        let want = a
            .clone()
            .matmul(b.clone().permute::<_, Axes2<1, 0>>())
            .as_vec();
        let bt = permute2(Laid::fresh(b)).unwrap();
        assert_eq!(bt.strides(), [1, 4]);
        let got = matmul("test", Laid::fresh(a), bt).unwrap();
        assert!(got.is_contiguous());
        assert_eq!(got.t.as_vec(), want);
    }

    #[test]
    #[should_panic(expected = "CUDA precondition violated by reshape (in maxpool2 windows)")]
    fn reshaping_a_non_contiguous_tensor_is_refused() {
        let dev = dev();
        let t = permute2(Laid::fresh(t2(&dev, 3, 4))).unwrap();
        let _ = reshape("maxpool2 windows", t, (12,));
    }

    #[test]
    #[should_panic(expected = "CUDA precondition violated by gather (in conv3x3 im2col)")]
    fn an_index_past_the_source_is_refused_when_the_table_is_built() {
        let _ = IndexTable::new("conv3x3 im2col", &dev(), vec![0, 1, 7], 7);
    }

    #[test]
    #[should_panic(expected = "built for a source of 7 values, this one has 6")]
    fn a_table_used_on_a_source_of_another_size_is_refused() {
        let dev = dev();
        let table = IndexTable::new("test", &dev, vec![0, 1, 6], 7).unwrap();
        let src: Tensor<(usize,), f32, Cpu> = dev.ones_like(&(6,));
        let _ = gather("conv3x3 output", Laid::fresh(src), &table);
    }

    #[test]
    fn gather_reads_the_table() {
        let dev = dev();
        let table = IndexTable::new("test", &dev, vec![3, 0, 3], 4).unwrap();
        let src = dev.tensor_from_vec(vec![1.0f32, 2.0, 3.0, 4.0], (4,));
        let y = gather("test", Laid::fresh(src), &table).unwrap();
        assert_eq!(y.t.as_vec(), vec![4.0, 1.0, 4.0]);
    }
}

//! The generic ops' index tables, built once per shape and kept on the device.
//!
//! A training step of the generic path then uploads nothing: the im2col, conv-output and
//! pooling-window tables of each layer's shape are built on the first step and reused (the
//! last, smaller batch of an epoch and the evaluation chunks add a few more shapes).
//!
//! The cache is per thread (training runs a seed on one thread) and holds at most
//! [`MAX_TABLES`] tables, dropping the oldest. Call [`forget`] when a thread moves to a new
//! device instance (each seed opens its own), so no table is used on another device's stream.

use std::any::{Any, TypeId};
use std::cell::RefCell;

use dfdx::prelude::*;

use super::legal::IndexTable;

/// Tables kept per thread.
pub const MAX_TABLES: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
    device: TypeId,
    kind: &'static str,
    dims: Vec<usize>,
}

thread_local! {
    static TABLES: RefCell<Vec<(Key, Box<dyn Any>)>> = const { RefCell::new(Vec::new()) };
}

/// Drops every cached table of this thread (their device memory with them).
pub fn forget() {
    TABLES.with(|t| t.borrow_mut().clear());
}

/// Cached tables on this thread.
pub fn cached() -> usize {
    TABLES.with(|t| t.borrow().len())
}

fn cached_or<D, V, F>(kind: &'static str, dims: &[usize], build: F) -> Result<V, D::Err>
where
    D: Device<f32> + 'static,
    V: Clone + 'static,
    F: FnOnce() -> Result<V, D::Err>,
{
    let key = Key {
        device: TypeId::of::<D>(),
        kind,
        dims: dims.to_vec(),
    };
    let hit = TABLES.with(|t| {
        t.borrow()
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.downcast_ref::<V>().cloned())
    });
    if let Some(v) = hit {
        return Ok(v);
    }
    let v = build()?;
    TABLES.with(|t| {
        let mut t = t.borrow_mut();
        if t.len() >= MAX_TABLES {
            t.remove(0);
        }
        t.push((key, Box::new(v.clone())));
    });
    Ok(v)
}

/// im2col for a 3×3 conv of `x` (N, I, H, W) with padding `pad`: entry `r·(N·P) + n·P + p` of
/// the `(9·I, N·P)` column matrix (row `r = i·9 + ky·3 + kx`, matching the weight reshaped to
/// `(O, 9·I)`) reads `x` flattened; with padding the source is `[x, 0·x]` (2·N·I·H·W values) and
/// padding reads the zero half.
pub fn conv_cols<D: Device<f32> + 'static>(
    dev: &D,
    x: super::Shape4,
    pad: usize,
    (oh, ow): (usize, usize),
) -> Result<IndexTable<D>, D::Err> {
    let (n, ci, h, w) = x;
    cached_or::<D, _, _>("conv_cols", &[n, ci, h, w, pad], || {
        let m = n * ci * h * w;
        let p = oh * ow;
        let mut idx = Vec::with_capacity(9 * ci * n * p);
        for i in 0..ci {
            for ky in 0..3 {
                for kx in 0..3 {
                    for b in 0..n {
                        let base = (b * ci + i) * h * w;
                        for oy in 0..oh {
                            for ox in 0..ow {
                                let iy = (oy + ky) as isize - pad as isize;
                                let ix = (ox + kx) as isize - pad as isize;
                                let inside =
                                    iy >= 0 && iy < h as isize && ix >= 0 && ix < w as isize;
                                idx.push(if inside {
                                    base + iy as usize * w + ix as usize
                                } else {
                                    m + base
                                });
                            }
                        }
                    }
                }
            }
        }
        let src_len = if pad > 0 { 2 * m } else { m };
        IndexTable::new("conv3x3 im2col", dev, idx, src_len)
    })
}

/// The GEMM's `(O, N, P)` output read as `(N, O, P)`.
pub fn conv_out<D: Device<f32> + 'static>(
    dev: &D,
    (n, o, p): (usize, usize, usize),
) -> Result<IndexTable<D>, D::Err> {
    cached_or::<D, _, _>("conv_out", &[n, o, p], || {
        let mut idx = Vec::with_capacity(n * o * p);
        for b in 0..n {
            for c in 0..o {
                let base = (c * n + b) * p;
                idx.extend(base..base + p);
            }
        }
        IndexTable::new("conv3x3 output", dev, idx, n * o * p)
    })
}

/// `[1, 0]`: broadcast against `(2, M)` copies of the input, it makes `[x, 0·x]`, the padded
/// conv's gather source.
pub fn pad_selector<D: Device<f32> + 'static>(dev: &D) -> Result<Tensor<(usize,), f32, D>, D::Err> {
    cached_or::<D, _, _>("pad_selector", &[], || {
        dev.try_tensor_from_vec(vec![1.0f32, 0.0], (2,))
    })
}

/// The 2×2 windows of `x` (N, C, H, W): entry `t·(N·C·P) + (n·C + c)·P + p` reads tap
/// `t = dy·2 + dx` of window `p` of channel `c` of image `n`.
pub fn pool_windows<D: Device<f32> + 'static>(
    dev: &D,
    x: super::Shape4,
) -> Result<IndexTable<D>, D::Err> {
    let (n, c, h, w) = x;
    cached_or::<D, _, _>("pool_windows", &[n, c, h, w], || {
        let (oh, ow) = (h / 2, w / 2);
        let mut idx = Vec::with_capacity(4 * n * c * oh * ow);
        for dy in 0..2 {
            for dx in 0..2 {
                for plane in 0..n * c {
                    let base = plane * h * w;
                    for oy in 0..oh {
                        for ox in 0..ow {
                            idx.push(base + (2 * oy + dy) * w + 2 * ox + dx);
                        }
                    }
                }
            }
        }
        IndexTable::new("maxpool2 windows", dev, idx, n * c * h * w)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_built_once_per_shape_and_forgotten_on_request() {
        let dev = Cpu::seed_from_u64(0);
        forget();
        let a = conv_cols(&dev, (2, 3, 5, 5), 1, (5, 5)).unwrap();
        assert_eq!(cached(), 1);
        let b = conv_cols(&dev, (2, 3, 5, 5), 1, (5, 5)).unwrap();
        assert_eq!(cached(), 1, "the same shape reuses its table");
        assert_eq!(a.idx.as_vec(), b.idx.as_vec());
        assert_eq!(a.len(), 27 * 2 * 25);
        assert_eq!(a.src_len, 2 * 2 * 3 * 25, "padding reads the zero half");
        conv_cols(&dev, (3, 3, 5, 5), 1, (5, 5)).unwrap();
        pool_windows(&dev, (3, 3, 5, 5)).unwrap();
        assert_eq!(cached(), 3);
        forget();
        assert_eq!(cached(), 0);
    }

    #[test]
    fn the_cache_keeps_at_most_max_tables() {
        let dev = Cpu::seed_from_u64(0);
        forget();
        for n in 1..=MAX_TABLES + 5 {
            conv_out(&dev, (n, 2, 3)).unwrap();
        }
        assert_eq!(cached(), MAX_TABLES);
        forget();
    }

    #[test]
    fn conv_out_reorders_o_n_p_into_n_o_p() {
        let dev = Cpu::seed_from_u64(0);
        let t = conv_out(&dev, (2, 3, 2)).unwrap();
        // (n=0: o0 p0,p1 | o1 | o2), (n=1: ...), source laid out (o, n, p).
        assert_eq!(t.idx.as_vec(), vec![0, 1, 4, 5, 8, 9, 2, 3, 6, 7, 10, 11]);
    }
}

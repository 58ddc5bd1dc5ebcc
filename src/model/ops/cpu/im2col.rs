//! The geometry of one 3×3 convolution and its im2col / col2im, for the path
//! [`super::conv`] takes without AVX-512.

/// Geometry of one 3×3 convolution.
#[derive(Clone, Copy)]
pub(super) struct Conv {
    pub(super) ci: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) pad: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
}

impl Conv {
    /// For output column `ox`, tap `kx`: the valid range `lo..hi` of `ox` (the input column is
    /// `ox + kx - pad`).
    #[inline]
    fn cols(&self, kx: usize) -> (usize, usize) {
        let lo = self.pad.saturating_sub(kx).min(self.ow);
        let hi = (self.w + self.pad).saturating_sub(kx).min(self.ow).max(lo);
        (lo, hi)
    }

    /// Input row for output row `oy`, tap `ky`, if inside the image.
    #[inline]
    fn row(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy + ky).checked_sub(self.pad).filter(|&iy| iy < self.h)
    }

    /// col (I·9 × OH·OW) from one image (I × H × W); row `(i·3 + ky)·3 + kx`.
    pub(super) fn im2col(&self, x: &[f32], col: &mut [f32]) {
        let (h, w, oh, ow) = (self.h, self.w, self.oh, self.ow);
        let p = oh * ow;
        for i in 0..self.ci {
            let xi = &x[i * h * w..(i + 1) * h * w];
            for ky in 0..3 {
                for kx in 0..3 {
                    let r = (i * 3 + ky) * 3 + kx;
                    let row = &mut col[r * p..(r + 1) * p];
                    let (lo, hi) = self.cols(kx);
                    for oy in 0..oh {
                        let dst = &mut row[oy * ow..(oy + 1) * ow];
                        match self.row(oy, ky) {
                            None => dst.fill(0.0),
                            Some(iy) => {
                                dst[..lo].fill(0.0);
                                dst[hi..].fill(0.0);
                                let s = iy * w + lo + kx - self.pad;
                                dst[lo..hi].copy_from_slice(&xi[s..s + hi - lo]);
                            }
                        }
                    }
                }
            }
        }
    }

    /// dx (I × H × W) += col2im(dcol).
    pub(super) fn col2im_add(&self, dcol: &[f32], dx: &mut [f32]) {
        let (h, w, oh, ow) = (self.h, self.w, self.oh, self.ow);
        let p = oh * ow;
        for i in 0..self.ci {
            let di = &mut dx[i * h * w..(i + 1) * h * w];
            for ky in 0..3 {
                for kx in 0..3 {
                    let r = (i * 3 + ky) * 3 + kx;
                    let row = &dcol[r * p..(r + 1) * p];
                    let (lo, hi) = self.cols(kx);
                    for oy in 0..oh {
                        if let Some(iy) = self.row(oy, ky) {
                            let s = iy * w + lo + kx - self.pad;
                            let src = &row[oy * ow + lo..oy * ow + hi];
                            for (d, v) in di[s..s + hi - lo].iter_mut().zip(src) {
                                *d += *v;
                            }
                        }
                    }
                }
            }
        }
    }
}

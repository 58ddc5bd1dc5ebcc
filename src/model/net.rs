//! The CNN backbone (conv stages → embedding) and the full model (backbone + head).

use super::error::ModelError;
use dfdx::prelude::*;
use rand::Rng;

use super::head::{Head, T2};
use super::ops::{BnMode, OpsDevice, T1, T4};
use super::params::{ParamVisitor, Params};
use crate::config::{HeadConfig, ModelConfig};

/// PyTorch's default BatchNorm momentum.
pub const BN_MOMENTUM: f32 = 0.1;

/// One 3×3 convolution followed by BatchNorm and ReLU.
#[derive(Clone, Debug)]
pub struct ConvBnRelu<D: Device<f32>> {
    pub weight: T4<D>,
    pub gamma: T1<D>,
    pub beta: T1<D>,
    pub running_mean: T1<D>,
    pub running_var: T1<D>,
}

impl<D: OpsDevice> ConvBnRelu<D> {
    fn new(dev: &D, cin: usize, cout: usize, rng: &mut impl Rng) -> Self {
        // Kaiming-uniform for ReLU: U(−√(6/fan_in), √(6/fan_in)).
        let bound = (6.0 / (cin * 9) as f32).sqrt();
        let w: Vec<f32> = (0..cout * cin * 9)
            .map(|_| rng.gen_range(-bound..bound))
            .collect();
        ConvBnRelu {
            weight: dev.tensor_from_vec(w, (cout, cin, 3, 3)),
            gamma: dev.ones_like(&(cout,)),
            beta: dev.zeros_like(&(cout,)),
            running_mean: dev.zeros_like(&(cout,)),
            running_var: dev.ones_like(&(cout,)),
        }
    }

    /// Conv → BN → ReLU, optionally followed by the 2×2 max-pool (one fused op on the CPU).
    /// `input_grad = false` skips the input gradient (the first layer needs none).
    fn forward<T: Tape<f32, D>>(
        &mut self,
        x: T4<D, T>,
        pad: usize,
        mode: BnMode,
        pool: bool,
        input_grad: bool,
    ) -> T4<D, T> {
        let (g, b) = (&self.gamma, &self.beta);
        let (rm, rv) = (&mut self.running_mean, &mut self.running_var);
        let y = if pool {
            D::conv_block(x, &self.weight, None, pad, g, b, rm, rv, mode, input_grad)
        } else {
            let y = if input_grad {
                D::conv3x3(x, &self.weight, None, pad)
            } else {
                D::conv3x3_input(x, &self.weight, None, pad)
            };
            y.and_then(|y| D::batchnorm_relu(y, g, b, rm, rv, mode))
        };
        y.expect("conv block on shapes checked by feature_shape")
    }
}

/// Conv stages (each: `convs_per_stage` × Conv3×3+BN+ReLU, then 2×2 max-pool), flatten,
/// and a linear layer to the embedding.
#[derive(Clone, Debug)]
pub struct Backbone<D: Device<f32>> {
    pub stages: Vec<Vec<ConvBnRelu<D>>>,
    /// Embedding layer weight, stored `(in, dim)` so the forward pass needs no transpose.
    pub fc_weight: T2<D>,
    pub fc_bias: T1<D>,
    pub padding: usize,
    pub input: (usize, usize, usize),
    pub dim: usize,
}

/// Spatial size after the conv stages, or an error naming the config key when it vanishes.
pub fn feature_shape(
    cfg: &ModelConfig,
    input: (usize, usize, usize),
) -> Result<(usize, usize, usize), ModelError> {
    let (_, mut h, mut w) = input;
    let shrink = if cfg.padding == 1 { 0 } else { 2 };
    for (i, _) in cfg.widths.iter().enumerate() {
        for _ in 0..cfg.convs_per_stage {
            if h < shrink + 1 || w < shrink + 1 {
                return Err(ModelError::ConvInputTooSmall { stage: i + 1, h, w });
            }
            h -= shrink;
            w -= shrink;
        }
        if h < 2 || w < 2 {
            return Err(ModelError::PoolInputTooSmall { stage: i + 1, h, w });
        }
        h /= 2;
        w /= 2;
    }
    Ok((*cfg.widths.last().expect("validated: ≥ 1 stage"), h, w))
}

impl<D: OpsDevice> Backbone<D> {
    pub fn new(
        dev: &D,
        cfg: &ModelConfig,
        input: (usize, usize, usize),
        rng: &mut impl Rng,
    ) -> Result<Self, ModelError> {
        let (fc, fh, fw) = feature_shape(cfg, input)?;
        let mut cin = input.0;
        let mut stages = Vec::new();
        for &width in &cfg.widths {
            let mut layers = Vec::new();
            for _ in 0..cfg.convs_per_stage {
                layers.push(ConvBnRelu::new(dev, cin, width, rng));
                cin = width;
            }
            stages.push(layers);
        }
        let fan_in = fc * fh * fw;
        let bound = (1.0 / fan_in as f32).sqrt();
        let w: Vec<f32> = (0..fan_in * cfg.embedding_dim)
            .map(|_| rng.gen_range(-bound..bound))
            .collect();
        let b: Vec<f32> = (0..cfg.embedding_dim)
            .map(|_| rng.gen_range(-bound..bound))
            .collect();
        Ok(Backbone {
            stages,
            fc_weight: dev.tensor_from_vec(w, (fan_in, cfg.embedding_dim)),
            fc_bias: dev.tensor_from_vec(b, (cfg.embedding_dim,)),
            padding: cfg.padding,
            input,
            dim: cfg.embedding_dim,
        })
    }

    /// Embeddings `(N, dim)` of a batch `(N, C, H, W)`. `train` selects BatchNorm's mode.
    pub fn forward<T: Tape<f32, D>>(&mut self, x: T4<D, T>, train: bool) -> T2<D, T> {
        let flat = self.features(x, train);
        D::linear(flat, &self.fc_weight, &self.fc_bias).expect("embedding layer on checked shapes")
    }

    /// The flattened output of the conv stages `(N, C·H·W)`, before the embedding layer.
    pub fn features<T: Tape<f32, D>>(&mut self, x: T4<D, T>, train: bool) -> T2<D, T> {
        let mode = if train {
            BnMode::Train {
                momentum: BN_MOMENTUM,
            }
        } else {
            BnMode::Eval
        };
        let mut x = x;
        let mut first = true;
        for stage in &mut self.stages {
            let last = stage.len() - 1;
            for (j, layer) in stage.iter_mut().enumerate() {
                x = layer.forward(x, self.padding, mode, j == last, !first);
                first = false;
            }
        }
        let (n, c, h, w) = *x.shape();
        x.reshape_like(&(n, c * h * w))
    }
}

impl<D: OpsDevice> Params<D> for Backbone<D> {
    fn visit_params<V: ParamVisitor<D>>(&mut self, v: &mut V) {
        for (i, stage) in self.stages.iter_mut().enumerate() {
            for (j, l) in stage.iter_mut().enumerate() {
                let p = format!("backbone.stage{i}.conv{j}");
                v.visit(&format!("{p}.weight"), &mut l.weight, true);
                v.visit(&format!("{p}.bn.gamma"), &mut l.gamma, true);
                v.visit(&format!("{p}.bn.beta"), &mut l.beta, true);
                v.visit(&format!("{p}.bn.running_mean"), &mut l.running_mean, false);
                v.visit(&format!("{p}.bn.running_var"), &mut l.running_var, false);
            }
        }
        v.visit("backbone.fc.weight", &mut self.fc_weight, true);
        v.visit("backbone.fc.bias", &mut self.fc_bias, true);
    }
}

/// Backbone plus loss head.
#[derive(Clone, Debug)]
pub struct Model<D: Device<f32>> {
    pub backbone: Backbone<D>,
    pub head: Head<D>,
}

impl<D: OpsDevice> Model<D> {
    pub fn new(
        dev: &D,
        model: &ModelConfig,
        head: &HeadConfig,
        input: (usize, usize, usize),
        classes: usize,
        rng: &mut impl Rng,
    ) -> Result<Self, ModelError> {
        let backbone = Backbone::new(dev, model, input, rng)?;
        let head = Head::new(dev, head, model.embedding_dim, classes, rng)?;
        Ok(Model { backbone, head })
    }
}

impl<D: OpsDevice> Params<D> for Model<D> {
    fn visit_params<V: ParamVisitor<D>>(&mut self, v: &mut V) {
        self.backbone.visit_params(v);
        v.visit("head.weight", &mut self.head.weight, true);
        if let Some(b) = self.head.bias.as_mut() {
            v.visit("head.bias", b, true);
        }
    }
}

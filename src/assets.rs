//! The files the repository ships (tokenizer, data) and checkpoints on disk.

use burn::tensor::Device;
use std::path::{Path, PathBuf};
use taosr1_cot::{Example, GradeScale, Template};
use taosr1_model::{load_safetensors, ModelConfig, TaoTokenizer, Transformer};

use crate::codec::Codec;
use crate::Error;

/// Root of the repository (where `assets/` and `data/` live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped word-level tokenizer.
pub fn tokenizer_path() -> PathBuf {
    repo_root().join("assets").join("tokenizer.json")
}

/// A split of the shipped synthetic data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Training split.
    Train,
    /// Validation split (threshold fitting, model selection).
    Validation,
    /// Test split (reported numbers).
    Test,
}

impl Split {
    /// File of this split.
    pub fn path(self) -> PathBuf {
        let name = match self {
            Split::Train => "train.jsonl",
            Split::Validation => "validation.jsonl",
            Split::Test => "test.jsonl",
        };
        repo_root().join("data").join(name)
    }
}

/// Load labelled examples from the JSONL file at `path` with the default four-grade scale.
///
/// # Errors
/// [`Error::Cot`] naming the file (and, for a bad record, its 1-based line number).
///
/// ```
/// use std::path::Path;
/// use taosr1::assets::{load_examples, Split};
///
/// let test = load_examples(&Split::Test.path()).unwrap();
/// assert_eq!(test.len(), 300);
/// let err = load_examples(Path::new("no/such/split.jsonl")).unwrap_err();
/// assert!(err.to_string().contains("no/such/split.jsonl"), "{err}");
/// ```
pub fn load_examples(path: &Path) -> Result<Vec<Example>, Error> {
    Ok(taosr1_cot::load_examples(path, &GradeScale::default())?)
}

/// Load a shipped split with the default four-grade scale (the file of [`Split::path`]).
pub fn load_split(split: Split) -> Result<Vec<Example>, Error> {
    load_examples(&split.path())
}

/// The tokenizer at `tokenizer` (a `tokenizer.json`) with the default template.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; otherwise an error whose message names the file
/// (not a tokenizer, or lacking a special token, tag or grade label of the template).
///
/// ```
/// use std::path::Path;
/// use taosr1::assets::{load_codec_from, tokenizer_path};
///
/// let codec = load_codec_from(&tokenizer_path()).unwrap();
/// assert!(codec.tokenizer().vocab_size() > 100);
/// let err = load_codec_from(Path::new("no/such/tokenizer.json")).unwrap_err();
/// assert!(err.to_string().contains("no/such/tokenizer.json"), "{err}");
/// ```
pub fn load_codec_from(tokenizer: &Path) -> Result<Codec, Error> {
    // the tokenizers crate's message for a missing file does not say which one
    std::fs::metadata(tokenizer).map_err(|e| Error::io(tokenizer, e))?;
    let named = |e: Error| {
        let shown = tokenizer.display().to_string();
        let msg = e.to_string();
        if msg.contains(&shown) {
            e
        } else {
            Error::Input(format!("tokenizer {shown}: {msg}"))
        }
    };
    let tok = TaoTokenizer::from_file(tokenizer).map_err(|e| named(e.into()))?;
    Codec::new(tok, Template::default()).map_err(named)
}

/// The shipped tokenizer ([`tokenizer_path`]) with the default template.
pub fn load_codec() -> Result<Codec, Error> {
    load_codec_from(&tokenizer_path())
}

/// Where a run reads its data splits and tokenizer from.
///
/// The default is the shipped files, addressed from the crate root so tests and benches find
/// them from any working directory; the examples take each path as a flag (see
/// [`crate::cli`]).
///
/// ```
/// use taosr1::assets::{load_split, DataPaths, Split};
///
/// let data = DataPaths::default();
/// assert_eq!(data.split(Split::Validation), Split::Validation.path());
/// assert_eq!(data.load(Split::Test).unwrap(), load_split(Split::Test).unwrap());
/// assert!(data.codec().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataPaths {
    /// Training split (JSONL).
    pub train: PathBuf,
    /// Validation split (JSONL).
    pub validation: PathBuf,
    /// Test split (JSONL).
    pub test: PathBuf,
    /// Tokenizer (`tokenizer.json`).
    pub tokenizer: PathBuf,
}

impl DataPaths {
    /// The files the repository ships: [`Split::path`] and [`tokenizer_path`].
    pub fn shipped() -> Self {
        Self {
            train: Split::Train.path(),
            validation: Split::Validation.path(),
            test: Split::Test.path(),
            tokenizer: tokenizer_path(),
        }
    }

    /// File of `split`.
    pub fn split(&self, split: Split) -> &Path {
        match split {
            Split::Train => &self.train,
            Split::Validation => &self.validation,
            Split::Test => &self.test,
        }
    }

    /// Load `split` with the default scale (see [`load_examples`]).
    pub fn load(&self, split: Split) -> Result<Vec<Example>, Error> {
        load_examples(self.split(split))
    }

    /// Load `split`, refusing a file without examples.
    ///
    /// # Errors
    /// As [`load_examples`], and [`Error::Input`] naming the file when it holds no example.
    pub fn load_nonempty(&self, split: Split) -> Result<Vec<Example>, Error> {
        let path = self.split(split);
        let examples = load_examples(path)?;
        if examples.is_empty() {
            return Err(Error::Input(format!("{}: no examples", path.display())));
        }
        Ok(examples)
    }

    /// The tokenizer with the default template (see [`load_codec_from`]).
    pub fn codec(&self) -> Result<Codec, Error> {
        load_codec_from(&self.tokenizer)
    }

    /// The tokenizer with the template in the response order checkpoint `dir` was trained in
    /// ([`load_order`]); a checkpoint that records none predates the setting and is
    /// think-first.
    ///
    /// ```
    /// use taosr1::assets::DataPaths;
    /// use taosr1_cot::ResponseOrder;
    /// let codec = DataPaths::default().codec_for(std::path::Path::new("no/such/run")).unwrap();
    /// assert_eq!(codec.template().order(), ResponseOrder::ThinkFirst);
    /// ```
    pub fn codec_for(&self, dir: &Path) -> Result<Codec, Error> {
        Ok(self.codec()?.with_order(checkpoint_order(dir)?))
    }
}

impl Default for DataPaths {
    fn default() -> Self {
        Self::shipped()
    }
}

/// Write `config.json` and `model.safetensors` into `dir` as a unit
/// ([`taosr1_model::replace_dir_atomic`]): the new files are written and fsynced in a staging
/// directory that then takes `dir`'s place, so a crash, a kill or a full disk at any moment
/// leaves the previous checkpoint loadable, and a reader never sees a new config next to old
/// or partial weights. A model with a NaN/∞ parameter is refused before anything is written.
/// Other files in `dir` (fitted thresholds, reports) are carried over to the new directory.
///
/// # Errors
/// [`Error::Model`] with `NonFiniteWeight` naming the parameter, or the I/O error.
pub fn save_checkpoint(model: &Transformer, cfg: &ModelConfig, dir: &Path) -> Result<(), Error> {
    let weights = taosr1_model::to_safetensors_bytes(model)?;
    let config = serde_json::to_string_pretty(cfg)
        .map_err(|e| Error::Input(format!("{}: config: {e}", dir.display())))?;
    taosr1_model::replace_dir_atomic(dir, |staging| {
        if dir.is_dir() {
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let name = entry.file_name();
                if entry.path().is_file() && name != "config.json" && name != "model.safetensors" {
                    std::fs::copy(entry.path(), staging.join(&name))?;
                }
            }
        }
        std::fs::write(staging.join("config.json"), &config)?;
        std::fs::write(staging.join("model.safetensors"), &weights)
    })
    .map_err(|e| Error::io(dir, e))
}

/// Read a checkpoint written by [`save_checkpoint`]: an embedded model, read with the
/// word-level tokenizer.
///
/// # Errors
/// [`Error::Input`] for a Hugging Face folder (one with `tokenizer.json`, or with
/// [`crate::real::TEMPLATE_FILE`]): its token ids are its own tokenizer's, so scoring it with
/// the word-level codec would be garbage. Load it with [`crate::real::load`] (as `serve` and
/// `home_depot` do) or, for the bare weights, `taosr1_model::load_pretrained`. Otherwise
/// [`Error::Io`]/[`Error::Model`] naming the file.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("hf-folder-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("tokenizer.json"), "{}").unwrap();
/// let err = taosr1::assets::load_checkpoint(&dir, &Default::default()).unwrap_err();
/// assert!(err.to_string().contains("Hugging Face"));
/// std::fs::remove_dir_all(&dir).ok();
/// ```
pub fn load_checkpoint(dir: &Path, device: &Device) -> Result<(Transformer, ModelConfig), Error> {
    for (file, what) in [
        (
            crate::real::TEMPLATE_FILE,
            "a Hugging Face checkpoint adapted for TaoSR1, with its own tokenizer and chat \
             template: load it with taosr1::real::load (the serve and home_depot examples do)",
        ),
        (
            "tokenizer.json",
            "a Hugging Face checkpoint with its own tokenizer, not an embedded word-level \
             model: adapt it first (home_depot, taosr1::real::adapt)",
        ),
    ] {
        if dir.join(file).is_file() {
            return Err(Error::Input(format!(
                "{}: {what} ({file} is there)",
                dir.display()
            )));
        }
    }
    let cfg = ModelConfig::from_json_file(&dir.join("config.json"))?;
    let model = load_safetensors(&dir.join("model.safetensors"), &cfg, device)?;
    Ok((model, cfg))
}

/// Build the word-level tokenizer of data splits: every prompt and response of the examples
/// in `splits` (the synthetic vocabulary is closed, so no split sees unknown words), with the
/// tags and grade labels as fixed ids.
///
/// # Errors
/// As [`load_examples`] for each file.
pub fn build_tokenizer_from(splits: &[&Path]) -> Result<TaoTokenizer, Error> {
    let mut all = Vec::new();
    for path in splits {
        all.extend(load_examples(path)?);
    }
    Codec::build_tokenizer(&all, &Template::default())
}

/// Build the tokenizer the repository ships: [`build_tokenizer_from`] the three shipped
/// splits. `examples/build_tokenizer.rs` writes it to [`tokenizer_path`]; a test checks the
/// shipped file equals a fresh build.
pub fn build_shipped_tokenizer() -> Result<TaoTokenizer, Error> {
    let data = DataPaths::shipped();
    build_tokenizer_from(&[&data.train, &data.validation, &data.test])
}

/// File in a checkpoint directory that records the response order the model was trained in.
pub const ORDER_FILE: &str = "response_order.json";

/// Record in checkpoint `dir` that the model writes responses in `order` (`response_order.json`,
/// written atomically).
///
/// ```
/// use taosr1::assets::{load_order, save_order};
/// use taosr1_cot::ResponseOrder;
/// let dir = std::env::temp_dir().join(format!("taosr1-order-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// assert_eq!(load_order(&dir).unwrap(), None);
/// save_order(&dir, ResponseOrder::ThinkFirst).unwrap();
/// assert_eq!(load_order(&dir).unwrap(), Some(ResponseOrder::ThinkFirst));
/// std::fs::write(dir.join("response_order.json"), "\"sideways\"").unwrap();
/// assert!(load_order(&dir).unwrap_err().to_string().contains("response_order.json"));
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn save_order(dir: &Path, order: taosr1_cot::ResponseOrder) -> Result<(), Error> {
    let path = dir.join(ORDER_FILE);
    let text = serde_json::to_string(&order).map_err(|e| Error::Input(e.to_string()))?;
    taosr1_model::write_atomic(&path, text.as_bytes()).map_err(|e| Error::io(&path, e))
}

/// The response order recorded in checkpoint `dir`, `None` when it records none (checkpoints
/// written before the order existed are think-first).
///
/// # Errors
/// [`Error::Io`] when the file exists but cannot be read; [`Error::Input`] naming the file
/// when it holds no known order.
pub fn load_order(dir: &Path) -> Result<Option<taosr1_cot::ResponseOrder>, Error> {
    let path = dir.join(ORDER_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::Input(format!("{}: {e}", path.display())))
}

/// The order checkpoint `dir` was trained in: [`load_order`], or think-first for a checkpoint
/// that records none (it predates the setting).
///
/// ```
/// use taosr1_cot::ResponseOrder;
/// let order = taosr1::assets::checkpoint_order(std::path::Path::new("no/such/run")).unwrap();
/// assert_eq!(order, ResponseOrder::ThinkFirst);
/// ```
pub fn checkpoint_order(dir: &Path) -> Result<taosr1_cot::ResponseOrder, Error> {
    Ok(load_order(dir)?.unwrap_or(taosr1_cot::ResponseOrder::ThinkFirst))
}

/// Where a labelled file that is not in TaoSR1's split JSONL comes from, and how to read it:
/// the columns ([`ColumnSpec`](taosr1_cot::adapter::ColumnSpec)) and whether a bad row is
/// fatal.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSource {
    /// A CSV (`.csv`) or JSONL (any other extension) file of labelled pairs.
    pub file: PathBuf,
    /// Which column holds what, and the label map.
    pub spec: taosr1_cot::adapter::ColumnSpec,
    /// A row that fails stops the run (else it is reported as `file:line: reason` and
    /// skipped).
    pub strict: bool,
}

/// Read `source`, split it by query (80/10/10: sha256 of the query, the order the issue
/// fixes), give every row the rule teacher's five-step rationale where the teacher keeps one
/// (an empty rationale otherwise: such a row trains its label only), and write
/// `train.jsonl`, `validation.jsonl`, `test.jsonl` and a word-level `tokenizer.json` built
/// from them into `dir` (each file atomically). Returns the paths every example reads, and
/// the rows skipped (`file:line: reason`).
///
/// # Errors
/// [`Error::Cot`] for an unreadable file, a bad spec or, when `strict`, the first bad row;
/// [`Error::Input`] when a split comes out empty; [`Error::Io`] naming a file that cannot
/// be written.
///
/// ```
/// use taosr1::assets::{prepare_data, DataSource};
/// use taosr1_cot::adapter::ColumnSpec;
/// let dir = std::env::temp_dir().join(format!("taosr1-doc-data-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let csv = dir.join("pairs.csv");
/// let mut text = String::from("id,product_uid,product_title,search_term,relevance\n");
/// for q in 0..40 {
///     text += &format!("{q},1,Cordless drill {q},drill {q},3\n{q}b,2,Garden hose,drill {q},1\n");
/// }
/// text += "bad,3,Hose,hose,seven\n";
/// std::fs::write(&csv, text).unwrap();
/// let source = DataSource { file: csv, spec: ColumnSpec::home_depot(), strict: false };
/// let (paths, skipped) = prepare_data(&source, &dir.join("out")).unwrap();
/// assert_eq!(skipped.len(), 1);
/// assert!(skipped[0].contains("pairs.csv:82"), "{}", skipped[0]);
/// let train = paths.load(taosr1::assets::Split::Train).unwrap();
/// let test = paths.load(taosr1::assets::Split::Test).unwrap();
/// assert!(train.len() > test.len() && !test.is_empty());
/// assert!(train.iter().all(|e| !test.iter().any(|t| t.query == e.query)));
/// assert!(paths.codec().is_ok());
/// assert!(prepare_data(&DataSource { strict: true, ..source }, &dir.join("strict")).is_err());
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn prepare_data(source: &DataSource, dir: &Path) -> Result<(DataPaths, Vec<String>), Error> {
    use taosr1_cot::adapter::{read_csv, read_jsonl_str, split_by_query};
    use taosr1_cot::teacher::{brand_lexicon, RuleTeacher, Teacher};
    let scale = taosr1_cot::GradeScale::default();
    let is_csv = source
        .file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let read = if is_csv {
        read_csv(&source.file, &source.spec, &scale, source.strict)?
    } else {
        let text = std::fs::read_to_string(&source.file).map_err(|e| Error::io(&source.file, e))?;
        let origin = source.file.display().to_string();
        read_jsonl_str(&text, &origin, &source.spec, &scale, source.strict)?
    };
    let skipped: Vec<String> = read.rejected.iter().map(ToString::to_string).collect();
    let brands = brand_lexicon(read.examples.iter().map(|e| e.product.title.as_str()), 5);
    let mut teacher = RuleTeacher::new(taosr1_cot::rules::RuleBook::default_rules(), scale.clone())
        .with_brands(&brands);
    let split = split_by_query(read.examples, 0.8, 0.1)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let paths = DataPaths {
        train: dir.join("train.jsonl"),
        validation: dir.join("validation.jsonl"),
        test: dir.join("test.jsonl"),
        tokenizer: dir.join("tokenizer.json"),
    };
    for (rows, path) in [
        (split.train, &paths.train),
        (split.validation, &paths.validation),
        (split.test, &paths.test),
    ] {
        if rows.is_empty() {
            return Err(Error::Input(format!(
                "{}: too few queries for a non-empty {} split",
                source.file.display(),
                path.display()
            )));
        }
        let batch: Vec<_> = rows.iter().map(|e| (e.item(), e.grade)).collect();
        let verdicts = teacher.write_batch(&batch)?;
        let rows: Vec<Example> = rows
            .into_iter()
            .zip(verdicts)
            .map(|(mut e, v)| {
                e.rationale = v.rationale().unwrap_or_default().to_string();
                e
            })
            .collect();
        let mut bytes = Vec::new();
        taosr1_cot::write_examples(&mut bytes, &rows, &scale)?;
        taosr1_model::write_atomic(path, &bytes).map_err(|e| Error::io(path, e))?;
    }
    let tokenizer = build_tokenizer_from(&[&paths.train, &paths.validation, &paths.test])?;
    let json = tokenizer.to_json()?;
    taosr1_model::write_atomic(&paths.tokenizer, json.as_bytes())
        .map_err(|e| Error::io(&paths.tokenizer, e))?;
    Ok((paths, skipped))
}

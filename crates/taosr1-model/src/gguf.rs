//! GGUF reader: the container llama.cpp ships quantised checkpoints in.
//!
//! [`GgufFile`] parses a GGUF v2/v3 file (header, metadata key/values of every type, tensor
//! infos, alignment, data section) and dequantises any of its tensors to f32
//! ([`GgufFile::tensor_f32`]: F32, F16, BF16, F64, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q4_K, Q5_K,
//! Q6_K, Q8_K). [`read_gguf`] turns a llama-, qwen2- or qwen3-architecture file into what a
//! Hugging Face checkpoint folder holds: a transformers `config.json` ([`GgufModel::config`]),
//! the tensors under their Hugging Face names and PyTorch shapes, with llama.cpp's Q/K row
//! permutation undone ([`GgufModel::tensors`]), a byte-level BPE [`tokenizers::Tokenizer`] built
//! from the vocabulary and merges, the special-token ids and the chat template.
//!
//! Every malformed input (truncated file, bad magic, unknown value type, absurd counts or sizes,
//! tensors outside the data section) is a typed [`GgufError`]; sizes are checked against the
//! bytes actually present before anything is allocated.

mod arch;
mod dequant;
mod tokenizer;

use std::path::Path;

use crate::error::ModelError;

pub use arch::{read_gguf, GgufModel, GgufSpecials, NamedTensor};
pub(crate) use tokenizer::tao_tokenizer;

/// The four bytes every GGUF file starts with.
///
/// ```
/// assert_eq!(&taosr1_model::GGUF_MAGIC, b"GGUF");
/// ```
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";
/// Data-section alignment when `general.alignment` is absent.
///
/// ```
/// let file = taosr1_model::GgufFile::open("tests/fixtures/gguf/tiny_llama.gguf".as_ref()).unwrap();
/// assert_eq!(file.alignment, taosr1_model::DEFAULT_ALIGNMENT);
/// ```
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Deepest nesting of array values accepted (arrays of arrays of ...).
const MAX_ARRAY_DEPTH: usize = 8;
/// ggml's `GGML_MAX_DIMS`.
const MAX_DIMS: u32 = 4;

/// Everything that can be wrong with a GGUF file. [`ModelError::Gguf`] wraps it with the path.
///
/// ```
/// use taosr1_model::{GgufError, GgufFile};
/// let err = GgufFile::from_bytes(b"GGML\x03\0\0\0".to_vec()).unwrap_err();
/// assert_eq!(err, GgufError::BadMagic { found: *b"GGML" });
/// assert!(err.to_string().contains("bad magic"));
/// ```
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum GgufError {
    /// The file ends inside a field.
    #[error("truncated: {field} needs {needed} bytes at offset {offset}, only {available} left")]
    Truncated {
        /// The field being read.
        field: String,
        /// Byte offset of the field.
        offset: u64,
        /// Bytes the field needs.
        needed: u64,
        /// Bytes left in the file.
        available: u64,
    },
    /// The file does not start with `GGUF`.
    #[error("bad magic {found:?} (expected \"GGUF\")")]
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// Only GGUF v2 and v3 (little-endian) are read.
    #[error("unsupported GGUF version {version} (v2 and v3 little-endian are supported)")]
    UnsupportedVersion {
        /// The version field.
        version: u32,
    },
    /// A count is larger than the bytes left in the file could possibly hold.
    #[error("{field} = {count} is impossible: at most {limit} fit in the rest of the file")]
    TooMany {
        /// The count field.
        field: String,
        /// Its value.
        count: u64,
        /// The most the remaining bytes could hold.
        limit: u64,
    },
    /// A metadata value type id outside the GGUF spec.
    #[error("{field} has unknown value type {type_id}")]
    UnknownValueType {
        /// The value being read.
        field: String,
        /// The type id.
        type_id: u32,
    },
    /// Arrays nested deeper than this reader accepts.
    #[error("{field}: arrays nested deeper than {MAX_ARRAY_DEPTH}")]
    NestingTooDeep {
        /// The value being read.
        field: String,
    },
    /// A string is not UTF-8.
    #[error("{field} is not valid UTF-8")]
    InvalidUtf8 {
        /// The string field.
        field: String,
    },
    /// The same metadata key appears twice.
    #[error("duplicate metadata key `{key}`")]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// The same tensor name appears twice.
    #[error("duplicate tensor `{name}`")]
    DuplicateTensor {
        /// The tensor.
        name: String,
    },
    /// A tensor has more than four dimensions.
    #[error("tensor `{tensor}` has {n_dims} dimensions (at most {MAX_DIMS})")]
    TooManyDims {
        /// The tensor.
        tensor: String,
        /// Its dimension count.
        n_dims: u32,
    },
    /// A tensor's element or byte count overflows.
    #[error("tensor `{tensor}` has dims {dims:?}, whose size overflows")]
    SizeOverflow {
        /// The tensor.
        tensor: String,
        /// Its dims (innermost first).
        dims: Vec<u64>,
    },
    /// `general.alignment` is zero or not a power of two.
    #[error("general.alignment = {value} is not a power of two")]
    BadAlignment {
        /// The value.
        value: u64,
    },
    /// A tensor's offset is not a multiple of the alignment.
    #[error("tensor `{tensor}` starts at data offset {offset}, not a multiple of the alignment {alignment}")]
    MisalignedTensor {
        /// The tensor.
        tensor: String,
        /// Its offset in the data section.
        offset: u64,
        /// The alignment.
        alignment: u64,
    },
    /// A tensor's bytes reach past the end of the file.
    #[error(
        "tensor `{tensor}` spans data bytes {start}..{end}, but the data section holds {data_len}"
    )]
    TensorOutOfBounds {
        /// The tensor.
        tensor: String,
        /// First byte (data-section offset).
        start: u64,
        /// One past the last byte.
        end: u64,
        /// Length of the data section.
        data_len: u64,
    },
    /// A quantised tensor's row is not a whole number of blocks.
    #[error("tensor `{tensor}` ({dtype}) has rows of {row_len} elements, not a multiple of the block size {block}")]
    PartialBlock {
        /// The tensor.
        tensor: String,
        /// Its dtype.
        dtype: String,
        /// `ne[0]`.
        row_len: u64,
        /// Elements per block.
        block: u64,
    },
    /// A tensor dtype this reader cannot dequantise.
    #[error("tensor `{tensor}` has unsupported dtype {dtype}")]
    UnsupportedDtype {
        /// The tensor.
        tensor: String,
        /// The dtype.
        dtype: String,
    },
    /// A metadata key the conversion needs is absent.
    #[error("metadata key `{key}` is missing")]
    MissingKey {
        /// The key.
        key: String,
    },
    /// A metadata value has the wrong type or an unusable value.
    #[error("metadata key `{key}`: {reason}")]
    BadValue {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A tensor the conversion needs is absent.
    #[error("tensor `{name}` is missing")]
    MissingTensor {
        /// GGUF tensor name.
        name: String,
    },
    /// A tensor this architecture does not use.
    #[error("tensor `{name}` is not a {arch} tensor this reader knows")]
    UnexpectedTensor {
        /// GGUF tensor name.
        name: String,
        /// The architecture.
        arch: String,
    },
    /// A tensor has a shape the config does not imply.
    #[error("tensor `{tensor}` has shape {found:?} (PyTorch order), expected {expected:?}")]
    ShapeMismatch {
        /// GGUF tensor name.
        tensor: String,
        /// Shape the metadata implies.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
    /// `general.architecture` names a model this reader cannot map.
    #[error("architecture `{arch}` is not supported (llama, qwen2, qwen3 are)")]
    UnsupportedArchitecture {
        /// The architecture.
        arch: String,
    },
    /// The tokenizer metadata cannot be turned into a tokenizer.
    #[error("tokenizer: {reason}")]
    Tokenizer {
        /// What is wrong.
        reason: String,
    },
}

/// A ggml tensor dtype (`ggml_type`), by its id in the file.
///
/// ```
/// use taosr1_model::GgmlType;
/// assert_eq!(GgmlType::Q8_0.to_string(), "Q8_0");
/// assert_eq!(GgmlType::from_id(GgmlType::Q4_K.id()), GgmlType::Q4_K);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
#[non_exhaustive]
pub enum GgmlType {
    /// 32-bit float.
    F32,
    /// IEEE half.
    F16,
    /// 32-element blocks: f16 scale + 4-bit values, `(q - 8) * d`.
    Q4_0,
    /// 32-element blocks: f16 scale and min + 4-bit values, `q * d + m`.
    Q4_1,
    /// 32-element blocks: f16 scale + 5-bit values, `(q - 16) * d`.
    Q5_0,
    /// 32-element blocks: f16 scale and min + 5-bit values, `q * d + m`.
    Q5_1,
    /// 32-element blocks: f16 scale + `i8` values.
    Q8_0,
    /// 32-element blocks used for activations only.
    Q8_1,
    /// 256-element super-blocks, 2-bit.
    Q2_K,
    /// 256-element super-blocks, 3-bit.
    Q3_K,
    /// 256-element super-blocks, 4-bit.
    Q4_K,
    /// 256-element super-blocks, 5-bit.
    Q5_K,
    /// 256-element super-blocks, 6-bit.
    Q6_K,
    /// 256-element super-blocks, f32 scale + `i8` values.
    Q8_K,
    /// 8-bit integer.
    I8,
    /// 16-bit integer.
    I16,
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 64-bit float.
    F64,
    /// bfloat16.
    BF16,
    /// Any other id (the IQ formats, ternary formats, ids from later ggml versions).
    Other(u32),
}

impl GgmlType {
    /// The dtype with this `ggml_type` id.
    ///
    /// ```
    /// use taosr1_model::GgmlType;
    /// assert_eq!(GgmlType::from_id(3), GgmlType::Q4_1);
    /// assert_eq!(GgmlType::from_id(3).id(), 3);
    /// assert_eq!(GgmlType::from_id(16), GgmlType::Other(16));
    /// ```
    pub fn from_id(id: u32) -> Self {
        match id {
            0 => Self::F32,
            1 => Self::F16,
            2 => Self::Q4_0,
            3 => Self::Q4_1,
            6 => Self::Q5_0,
            7 => Self::Q5_1,
            8 => Self::Q8_0,
            9 => Self::Q8_1,
            10 => Self::Q2_K,
            11 => Self::Q3_K,
            12 => Self::Q4_K,
            13 => Self::Q5_K,
            14 => Self::Q6_K,
            15 => Self::Q8_K,
            24 => Self::I8,
            25 => Self::I16,
            26 => Self::I32,
            27 => Self::I64,
            28 => Self::F64,
            30 => Self::BF16,
            other => Self::Other(other),
        }
    }

    /// The `ggml_type` id.
    ///
    /// ```
    /// assert_eq!(taosr1_model::GgmlType::BF16.id(), 30);
    /// ```
    pub fn id(self) -> u32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q4_0 => 2,
            Self::Q4_1 => 3,
            Self::Q5_0 => 6,
            Self::Q5_1 => 7,
            Self::Q8_0 => 8,
            Self::Q8_1 => 9,
            Self::Q2_K => 10,
            Self::Q3_K => 11,
            Self::Q4_K => 12,
            Self::Q5_K => 13,
            Self::Q6_K => 14,
            Self::Q8_K => 15,
            Self::I8 => 24,
            Self::I16 => 25,
            Self::I32 => 26,
            Self::I64 => 27,
            Self::F64 => 28,
            Self::BF16 => 30,
            Self::Other(id) => id,
        }
    }

    /// ggml's name for the dtype (`"Q4_1"`, or `"type 16"` for an id without a variant).
    ///
    /// ```
    /// assert_eq!(taosr1_model::GgmlType::Q4_K.name(), "Q4_K");
    /// ```
    pub fn name(self) -> String {
        match self {
            Self::Other(id) => format!("type {id}"),
            known => format!("{known:?}"),
        }
    }

    /// `(elements per block, bytes per block)` as ggml lays it out, or `None` for an id this
    /// reader does not know the layout of.
    ///
    /// ```
    /// use taosr1_model::GgmlType;
    /// assert_eq!(GgmlType::Q4_0.block_layout(), Some((32, 18)));
    /// assert_eq!(GgmlType::Q4_1.block_layout(), Some((32, 20)));
    /// assert_eq!(GgmlType::Q8_0.block_layout(), Some((32, 34)));
    /// assert_eq!(GgmlType::Q6_K.block_layout(), Some((256, 210)));
    /// ```
    pub fn block_layout(self) -> Option<(u64, u64)> {
        Some(match self {
            Self::F32 | Self::I32 => (1, 4),
            Self::F16 | Self::BF16 | Self::I16 => (1, 2),
            Self::I8 => (1, 1),
            Self::I64 | Self::F64 => (1, 8),
            Self::Q4_0 => (32, 18),
            Self::Q4_1 => (32, 20),
            Self::Q5_0 => (32, 22),
            Self::Q5_1 => (32, 24),
            Self::Q8_0 => (32, 34),
            Self::Q8_1 => (32, 36),
            Self::Q2_K => (256, 84),
            Self::Q3_K => (256, 110),
            Self::Q4_K => (256, 144),
            Self::Q5_K => (256, 176),
            Self::Q6_K => (256, 210),
            Self::Q8_K => (256, 292),
            Self::Other(id) => match id {
                16 => (256, 66),  // IQ2_XXS
                17 => (256, 74),  // IQ2_XS
                18 => (256, 98),  // IQ3_XXS
                19 => (256, 50),  // IQ1_S
                20 => (32, 18),   // IQ4_NL
                21 => (256, 110), // IQ3_S
                22 => (256, 82),  // IQ2_S
                23 => (256, 136), // IQ4_XS
                29 => (256, 56),  // IQ1_M
                34 => (256, 54),  // TQ1_0
                35 => (256, 66),  // TQ2_0
                39 => (32, 17),   // MXFP4
                _ => return None,
            },
        })
    }
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// One metadata value.
///
/// ```
/// use taosr1_model::{GgufFile, GgufValue};
/// let file = GgufFile::open("tests/fixtures/gguf/tiny_llama.gguf".as_ref()).unwrap();
/// assert_eq!(file.get("llama.block_count"), Some(&GgufValue::U32(2)));
/// let tokens = file.get("tokenizer.ggml.tokens").and_then(|v| v.as_array()).unwrap();
/// assert_eq!(tokens[1].as_str(), Some("<|im_start|>"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum GgufValue {
    /// `uint8`.
    U8(u8),
    /// `int8`.
    I8(i8),
    /// `uint16`.
    U16(u16),
    /// `int16`.
    I16(i16),
    /// `uint32`.
    U32(u32),
    /// `int32`.
    I32(i32),
    /// `float32`.
    F32(f32),
    /// `bool`.
    Bool(bool),
    /// `string` (UTF-8).
    String(String),
    /// `array` of values of one type (possibly arrays).
    Array(Vec<GgufValue>),
    /// `uint64`.
    U64(u64),
    /// `int64`.
    I64(i64),
    /// `float64`.
    F64(f64),
}

impl GgufValue {
    /// The GGUF type name (`"uint32"`, `"array"`, ...).
    ///
    /// ```
    /// assert_eq!(taosr1_model::GgufValue::F32(1.0).type_name(), "float32");
    /// ```
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::U8(_) => "uint8",
            Self::I8(_) => "int8",
            Self::U16(_) => "uint16",
            Self::I16(_) => "int16",
            Self::U32(_) => "uint32",
            Self::I32(_) => "int32",
            Self::F32(_) => "float32",
            Self::Bool(_) => "bool",
            Self::String(_) => "string",
            Self::Array(_) => "array",
            Self::U64(_) => "uint64",
            Self::I64(_) => "int64",
            Self::F64(_) => "float64",
        }
    }

    /// The value as a non-negative integer, for any integer type holding one.
    ///
    /// ```
    /// use taosr1_model::GgufValue;
    /// assert_eq!(GgufValue::I32(7).as_u64(), Some(7));
    /// assert_eq!(GgufValue::I32(-1).as_u64(), None);
    /// assert_eq!(GgufValue::F32(7.0).as_u64(), None);
    /// ```
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U8(v) => Some(v.into()),
            Self::U16(v) => Some(v.into()),
            Self::U32(v) => Some(v.into()),
            Self::U64(v) => Some(v),
            Self::I8(v) => u64::try_from(v).ok(),
            Self::I16(v) => u64::try_from(v).ok(),
            Self::I32(v) => u64::try_from(v).ok(),
            Self::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as an `i64`, for any integer type that fits.
    ///
    /// ```
    /// assert_eq!(taosr1_model::GgufValue::I8(-3).as_i64(), Some(-3));
    /// ```
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Self::U8(v) => Some(v.into()),
            Self::U16(v) => Some(v.into()),
            Self::U32(v) => Some(v.into()),
            Self::U64(v) => i64::try_from(v).ok(),
            Self::I8(v) => Some(v.into()),
            Self::I16(v) => Some(v.into()),
            Self::I32(v) => Some(v.into()),
            Self::I64(v) => Some(v),
            _ => None,
        }
    }

    /// The value as an `f64`, for float types (an `f32` is widened exactly) and integers.
    ///
    /// ```
    /// assert_eq!(taosr1_model::GgufValue::F32(1e-5).as_f64(), Some(1e-5f32 as f64));
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::F32(v) => Some(v.into()),
            Self::F64(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    /// The string, for a string value.
    ///
    /// ```
    /// assert_eq!(taosr1_model::GgufValue::String("llama".into()).as_str(), Some("llama"));
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, for an array value.
    ///
    /// ```
    /// use taosr1_model::GgufValue;
    /// let v = GgufValue::Array(vec![GgufValue::U8(1)]);
    /// assert_eq!(v.as_array().map(|a| a.len()), Some(1));
    /// ```
    pub fn as_array(&self) -> Option<&[GgufValue]> {
        match self {
            Self::Array(v) => Some(v),
            _ => None,
        }
    }

    /// The value, for a bool.
    ///
    /// ```
    /// assert_eq!(taosr1_model::GgufValue::Bool(true).as_bool(), Some(true));
    /// ```
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Self::Bool(b) => Some(b),
            _ => None,
        }
    }
}

/// Where a tensor is and how it is stored.
///
/// ```
/// let file = taosr1_model::GgufFile::open("tests/fixtures/gguf/tiny_llama.gguf".as_ref()).unwrap();
/// let info = file.tensor_info("blk.0.attn_k.weight").unwrap();
/// assert_eq!(info.torch_shape(), vec![16, 32]); // 2 kv heads x head_dim 8, hidden 32
/// assert_eq!(info.offset % file.alignment, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufTensorInfo {
    /// Name in the file (`blk.0.attn_q.weight`).
    pub name: String,
    /// ggml `ne`: dimensions innermost first (`dims[0]` is the row length), so a PyTorch
    /// `[out, in]` matrix has `dims == [in, out]`.
    pub dims: Vec<u64>,
    /// Storage dtype.
    pub dtype: GgmlType,
    /// Byte offset inside the data section.
    pub offset: u64,
}

impl GgufTensorInfo {
    /// Number of elements (product of the dims; checked against overflow at parse time).
    ///
    /// ```
    /// use taosr1_model::{GgmlType, GgufTensorInfo};
    /// let t = GgufTensorInfo { name: "w".into(), dims: vec![64, 3], dtype: GgmlType::Q4_0, offset: 0 };
    /// assert_eq!(t.n_elements(), 192);
    /// ```
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// The shape in PyTorch order (outermost first): the dims reversed.
    ///
    /// ```
    /// use taosr1_model::{GgmlType, GgufTensorInfo};
    /// let t = GgufTensorInfo { name: "w".into(), dims: vec![64, 3], dtype: GgmlType::F32, offset: 0 };
    /// assert_eq!(t.torch_shape(), vec![3, 64]);
    /// ```
    pub fn torch_shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }

    /// Bytes the tensor occupies, or `None` for a dtype of unknown layout.
    ///
    /// ```
    /// use taosr1_model::{GgmlType, GgufTensorInfo};
    /// let t = GgufTensorInfo { name: "w".into(), dims: vec![64, 3], dtype: GgmlType::Q4_1, offset: 0 };
    /// assert_eq!(t.byte_len(), Some(3 * 2 * 20));
    /// ```
    pub fn byte_len(&self) -> Option<u64> {
        let (block, bytes) = self.dtype.block_layout()?;
        (self.n_elements() / block).checked_mul(bytes)
    }
}

/// A parsed GGUF file: metadata, tensor infos and the raw bytes the tensors live in.
///
/// ```
/// let file = taosr1_model::GgufFile::open("tests/fixtures/gguf/tiny_llama.gguf".as_ref()).unwrap();
/// let norm = file.tensor_f32("output_norm.weight").unwrap();
/// assert_eq!(norm.len(), 32);
/// assert!(norm.iter().all(|x| x.is_finite()));
/// ```
#[derive(Debug, Clone)]
pub struct GgufFile {
    /// Format version (2 or 3).
    pub version: u32,
    /// Metadata key/values in file order (keys are unique).
    pub metadata: Vec<(String, GgufValue)>,
    /// Tensor infos in file order (names are unique; every tensor of known layout lies inside
    /// the data section).
    pub tensors: Vec<GgufTensorInfo>,
    /// Data-section alignment (`general.alignment`, default 32).
    pub alignment: u64,
    /// Byte offset of the data section in the file.
    pub data_offset: u64,
    bytes: Vec<u8>,
}

/// A short read: the offset, the bytes wanted and the bytes left.
struct Short {
    offset: u64,
    needed: u64,
    available: u64,
}

impl Short {
    fn at(self, field: impl FnOnce() -> String) -> GgufError {
        GgufError::Truncated {
            field: field(),
            offset: self.offset,
            needed: self.needed,
            available: self.available,
        }
    }
}

/// A little-endian cursor over the file bytes that never reads past the end.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> u64 {
        (self.bytes.len() - self.pos) as u64
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], Short> {
        let short = Short {
            offset: self.pos as u64,
            needed: n,
            available: self.remaining(),
        };
        if n > self.remaining() {
            return Err(short);
        }
        let n = n as usize; // fits: n <= remaining <= usize::MAX
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Short> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, Short> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, Short> {
        self.array().map(u64::from_le_bytes)
    }

    /// A GGUF string: `u64` length + UTF-8 bytes.
    fn string(&mut self, field: &dyn Fn() -> String) -> Result<String, GgufError> {
        let len = self
            .u64()
            .map_err(|s| s.at(|| format!("{} (length)", field())))?;
        let raw = self.take(len).map_err(|s| s.at(field))?;
        String::from_utf8(raw.to_vec()).map_err(|_| GgufError::InvalidUtf8 { field: field() })
    }

    fn value(
        &mut self,
        type_id: u32,
        depth: usize,
        field: &dyn Fn() -> String,
    ) -> Result<GgufValue, GgufError> {
        let short = |s: Short| s.at(field);
        Ok(match type_id {
            0 => GgufValue::U8(self.array::<1>().map_err(short)?[0]),
            1 => GgufValue::I8(i8::from_le_bytes(self.array().map_err(short)?)),
            2 => GgufValue::U16(u16::from_le_bytes(self.array().map_err(short)?)),
            3 => GgufValue::I16(i16::from_le_bytes(self.array().map_err(short)?)),
            4 => GgufValue::U32(u32::from_le_bytes(self.array().map_err(short)?)),
            5 => GgufValue::I32(i32::from_le_bytes(self.array().map_err(short)?)),
            6 => GgufValue::F32(f32::from_le_bytes(self.array().map_err(short)?)),
            7 => GgufValue::Bool(self.array::<1>().map_err(short)?[0] != 0),
            8 => GgufValue::String(self.string(field)?),
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(GgufError::NestingTooDeep { field: field() });
                }
                let elem_type = self
                    .u32()
                    .map_err(|s| s.at(|| format!("{} (array element type)", field())))?;
                let count = self
                    .u64()
                    .map_err(|s| s.at(|| format!("{} (array length)", field())))?;
                // every element takes at least this many bytes: bounds the allocation
                let min_size = match elem_type {
                    0 | 1 | 7 => 1,
                    2 | 3 => 2,
                    4..=6 => 4,
                    8 | 10..=12 => 8,
                    9 => 12,
                    other => {
                        return Err(GgufError::UnknownValueType {
                            field: format!("{} (array element)", field()),
                            type_id: other,
                        })
                    }
                };
                let limit = self.remaining() / min_size;
                if count > limit {
                    return Err(GgufError::TooMany {
                        field: format!("{} (array length)", field()),
                        count,
                        limit,
                    });
                }
                let mut items = Vec::with_capacity(count as usize);
                for i in 0..count {
                    let elem_field = || format!("{}[{i}]", field());
                    items.push(self.value(elem_type, depth + 1, &elem_field)?);
                }
                GgufValue::Array(items)
            }
            10 => GgufValue::U64(u64::from_le_bytes(self.array().map_err(short)?)),
            11 => GgufValue::I64(i64::from_le_bytes(self.array().map_err(short)?)),
            12 => GgufValue::F64(f64::from_le_bytes(self.array().map_err(short)?)),
            other => {
                return Err(GgufError::UnknownValueType {
                    field: field(),
                    type_id: other,
                })
            }
        })
    }
}

impl GgufFile {
    /// Reads and parses the file at `path`.
    ///
    /// ```
    /// // the test fixture (run from the crate directory); any GGUF v2/v3 file reads the same way
    /// let file = taosr1_model::GgufFile::open("tests/fixtures/gguf/tiny_llama.gguf".as_ref()).unwrap();
    /// assert_eq!(file.version, 3);
    /// assert_eq!(file.tensors.len(), 21);
    /// ```
    ///
    /// # Errors
    /// [`ModelError::Io`] when the file cannot be read, [`ModelError::Gguf`] (naming the file)
    /// when it is not a well-formed GGUF file.
    pub fn open(path: &Path) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
        Self::from_bytes(bytes).map_err(|source| ModelError::Gguf {
            path: path.display().to_string(),
            source,
        })
    }

    /// Parses a whole GGUF file held in memory.
    ///
    /// ```
    /// use taosr1_model::{GgufError, GgufFile};
    /// // header: magic, version 3, 0 tensors, 1 metadata pair
    /// let mut b = b"GGUF".to_vec();
    /// b.extend(3u32.to_le_bytes());
    /// b.extend(0u64.to_le_bytes());
    /// b.extend(1u64.to_le_bytes());
    /// // key "general.name", type 8 (string), value "tiny"
    /// b.extend(12u64.to_le_bytes());
    /// b.extend(b"general.name");
    /// b.extend(8u32.to_le_bytes());
    /// b.extend(4u64.to_le_bytes());
    /// b.extend(b"tiny");
    /// let file = GgufFile::from_bytes(b.clone()).unwrap();
    /// assert_eq!(file.get("general.name").and_then(|v| v.as_str()), Some("tiny"));
    /// // cut inside the value: a typed error naming the key
    /// let err = GgufFile::from_bytes(b[..b.len() - 2].to_vec()).unwrap_err();
    /// assert!(matches!(err, GgufError::Truncated { ref field, .. } if field.contains("general.name")));
    /// ```
    ///
    /// # Errors
    /// A [`GgufError`] for every way the bytes are not a well-formed GGUF v2/v3 file.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, GgufError> {
        let mut c = Cursor {
            bytes: &bytes,
            pos: 0,
        };
        let magic: [u8; 4] = c.array().map_err(|s| s.at(|| "magic".into()))?;
        if magic != GGUF_MAGIC {
            return Err(GgufError::BadMagic { found: magic });
        }
        let version = c.u32().map_err(|s| s.at(|| "version".into()))?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion { version });
        }
        let tensor_count = c.u64().map_err(|s| s.at(|| "tensor_count".into()))?;
        let kv_count = c.u64().map_err(|s| s.at(|| "metadata_kv_count".into()))?;
        // a key/value takes >= 13 bytes (key length, type, 1-byte value); a tensor info >= 24
        let limit = c.remaining() / 13;
        if kv_count > limit {
            return Err(GgufError::TooMany {
                field: "metadata_kv_count".into(),
                count: kv_count,
                limit,
            });
        }
        let mut metadata: Vec<(String, GgufValue)> = Vec::with_capacity(kv_count as usize);
        for i in 0..kv_count {
            let key = c.string(&|| format!("metadata key #{i}"))?;
            let type_field = || format!("type of metadata `{key}`");
            let type_id = c.u32().map_err(|s| s.at(type_field))?;
            let value = c.value(type_id, 0, &|| format!("metadata `{key}`"))?;
            if metadata.iter().any(|(k, _)| *k == key) {
                return Err(GgufError::DuplicateKey { key });
            }
            metadata.push((key, value));
        }
        let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some((_, v)) => {
                let value = v.as_u64().ok_or_else(|| GgufError::BadValue {
                    key: "general.alignment".into(),
                    reason: format!("expected an unsigned integer, found {}", v.type_name()),
                })?;
                if !value.is_power_of_two() {
                    return Err(GgufError::BadAlignment { value });
                }
                value
            }
        };
        let limit = c.remaining() / 24;
        if tensor_count > limit {
            return Err(GgufError::TooMany {
                field: "tensor_count".into(),
                count: tensor_count,
                limit,
            });
        }
        let mut tensors: Vec<GgufTensorInfo> = Vec::with_capacity(tensor_count as usize);
        let mut names = std::collections::HashSet::with_capacity(tensor_count as usize);
        for i in 0..tensor_count {
            let name = c.string(&|| format!("tensor info #{i} name"))?;
            let n_dims = c
                .u32()
                .map_err(|s| s.at(|| format!("tensor `{name}` n_dims")))?;
            if n_dims > MAX_DIMS {
                return Err(GgufError::TooManyDims {
                    tensor: name,
                    n_dims,
                });
            }
            let mut dims = Vec::with_capacity(n_dims as usize);
            for d in 0..n_dims {
                dims.push(
                    c.u64()
                        .map_err(|s| s.at(|| format!("tensor `{name}` dim {d}")))?,
                );
            }
            let dtype = GgmlType::from_id(
                c.u32()
                    .map_err(|s| s.at(|| format!("tensor `{name}` type")))?,
            );
            let offset = c
                .u64()
                .map_err(|s| s.at(|| format!("tensor `{name}` offset")))?;
            if dims
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(d))
                .is_none()
            {
                return Err(GgufError::SizeOverflow { tensor: name, dims });
            }
            if !names.insert(name.clone()) {
                return Err(GgufError::DuplicateTensor { name });
            }
            tensors.push(GgufTensorInfo {
                name,
                dims,
                dtype,
                offset,
            });
        }
        // the data section starts at the next multiple of the alignment
        let data_offset = (c.pos as u64).div_ceil(alignment) * alignment;
        let data_len = (bytes.len() as u64).saturating_sub(data_offset);
        for t in &tensors {
            if !t.offset.is_multiple_of(alignment) {
                return Err(GgufError::MisalignedTensor {
                    tensor: t.name.clone(),
                    offset: t.offset,
                    alignment,
                });
            }
            let Some((block, _)) = t.dtype.block_layout() else {
                continue; // unknown layout: refused when read, not when listed
            };
            let row_len = t.dims.first().copied().unwrap_or(1);
            if !row_len.is_multiple_of(block) {
                return Err(GgufError::PartialBlock {
                    tensor: t.name.clone(),
                    dtype: t.dtype.name(),
                    row_len,
                    block,
                });
            }
            let end = t.byte_len().and_then(|len| t.offset.checked_add(len));
            match end {
                Some(end) if end <= data_len => {}
                _ => {
                    return Err(GgufError::TensorOutOfBounds {
                        tensor: t.name.clone(),
                        start: t.offset,
                        end: end.unwrap_or(u64::MAX),
                        data_len,
                    })
                }
            }
        }
        Ok(Self {
            version,
            metadata,
            tensors,
            alignment,
            data_offset,
            bytes,
        })
    }

    /// The metadata value under `key`.
    ///
    /// ```
    /// let file = taosr1_model::GgufFile::open("tests/fixtures/gguf/tiny_llama.gguf".as_ref()).unwrap();
    /// let arch = file.get("general.architecture").and_then(|v| v.as_str());
    /// assert_eq!(arch, Some("llama"));
    /// assert!(file.get("no.such.key").is_none());
    /// ```
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The info of the tensor called `name`.
    ///
    /// ```
    /// let file = taosr1_model::GgufFile::open("tests/fixtures/gguf/tiny_llama.gguf".as_ref()).unwrap();
    /// let info = file.tensor_info("token_embd.weight").unwrap();
    /// assert_eq!(info.dims, vec![32, 300]); // innermost first: [hidden, vocab]
    /// assert_eq!(info.dtype, taosr1_model::GgmlType::Q8_0);
    /// ```
    pub fn tensor_info(&self, name: &str) -> Option<&GgufTensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The stored bytes of the tensor called `name`.
    ///
    /// ```
    /// let file = taosr1_model::GgufFile::open("tests/fixtures/gguf/tiny_llama.gguf".as_ref()).unwrap();
    /// // Q4_0, 32 x 32: 32 rows of one 18-byte block
    /// assert_eq!(file.tensor_bytes("blk.0.attn_q.weight").unwrap().len(), 32 * 18);
    /// ```
    ///
    /// # Errors
    /// [`GgufError::MissingTensor`] for an unknown name, [`GgufError::UnsupportedDtype`] for a
    /// dtype whose layout this reader does not know.
    pub fn tensor_bytes(&self, name: &str) -> Result<&[u8], GgufError> {
        self.bytes_of(self.info_or_missing(name)?)
    }

    fn info_or_missing(&self, name: &str) -> Result<&GgufTensorInfo, GgufError> {
        self.tensor_info(name)
            .ok_or_else(|| GgufError::MissingTensor { name: name.into() })
    }

    fn bytes_of(&self, info: &GgufTensorInfo) -> Result<&[u8], GgufError> {
        let len = info.byte_len().ok_or_else(|| GgufError::UnsupportedDtype {
            tensor: info.name.clone(),
            dtype: info.dtype.name(),
        })?;
        // in bounds: checked at parse time for every tensor of known layout
        let start = (self.data_offset + info.offset) as usize;
        Ok(&self.bytes[start..start + len as usize])
    }

    /// The tensor called `name` dequantised to f32, in storage order (row-major over the
    /// PyTorch shape [`GgufTensorInfo::torch_shape`]).
    ///
    /// ```
    /// let file = taosr1_model::GgufFile::open("tests/fixtures/gguf/tiny_llama.gguf".as_ref()).unwrap();
    /// let w = file.tensor_f32("blk.0.ffn_up.weight").unwrap();
    /// assert_eq!(w.len(), 256 * 32);
    /// ```
    ///
    /// # Errors
    /// [`GgufError::MissingTensor`], or [`GgufError::UnsupportedDtype`] naming the tensor for a
    /// dtype without a dequantiser (Q3_K, Q8_1, IQ*, integer types...).
    pub fn tensor_f32(&self, name: &str) -> Result<Vec<f32>, GgufError> {
        let info = self.info_or_missing(name)?;
        let raw = self.bytes_of(info)?;
        dequant::dequantize(info.dtype, raw, info.n_elements() as usize).ok_or_else(|| {
            GgufError::UnsupportedDtype {
                tensor: name.into(),
                dtype: info.dtype.name(),
            }
        })
    }
}

#[cfg(test)]
mod tests;

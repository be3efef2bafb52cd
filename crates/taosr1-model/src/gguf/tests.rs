//! Parser tests on synthetic bytes: every malformed input is a typed error, never a panic.

use super::*;

/// A GGUF file under construction (little-endian, v3).
struct Builder {
    kvs: Vec<u8>,
    n_kv: u64,
    infos: Vec<u8>,
    n_tensors: u64,
    data: Vec<u8>,
    version: u32,
}

impl Builder {
    fn new() -> Self {
        Self {
            kvs: Vec::new(),
            n_kv: 0,
            infos: Vec::new(),
            n_tensors: 0,
            data: Vec::new(),
            version: 3,
        }
    }

    fn string(buf: &mut Vec<u8>, s: &[u8]) {
        buf.extend((s.len() as u64).to_le_bytes());
        buf.extend(s);
    }

    /// A key with a raw value: type id + payload bytes.
    fn kv_raw(mut self, key: &str, type_id: u32, payload: &[u8]) -> Self {
        Self::string(&mut self.kvs, key.as_bytes());
        self.kvs.extend(type_id.to_le_bytes());
        self.kvs.extend(payload);
        self.n_kv += 1;
        self
    }

    fn kv_u32(self, key: &str, v: u32) -> Self {
        self.kv_raw(key, 4, &v.to_le_bytes())
    }

    fn tensor(mut self, name: &str, dims: &[u64], dtype: u32, offset: u64) -> Self {
        Self::string(&mut self.infos, name.as_bytes());
        self.infos.extend((dims.len() as u32).to_le_bytes());
        for d in dims {
            self.infos.extend(d.to_le_bytes());
        }
        self.infos.extend(dtype.to_le_bytes());
        self.infos.extend(offset.to_le_bytes());
        self.n_tensors += 1;
        self
    }

    fn data(mut self, bytes: &[u8]) -> Self {
        self.data.extend(bytes);
        self
    }

    fn build_with_counts(&self, n_tensors: u64, n_kv: u64) -> Vec<u8> {
        let mut b = GGUF_MAGIC.to_vec();
        b.extend(self.version.to_le_bytes());
        b.extend(n_tensors.to_le_bytes());
        b.extend(n_kv.to_le_bytes());
        b.extend(&self.kvs);
        b.extend(&self.infos);
        let align = 32;
        while !b.len().is_multiple_of(align) {
            b.push(0);
        }
        b.extend(&self.data);
        b
    }

    fn build(&self) -> Vec<u8> {
        self.build_with_counts(self.n_tensors, self.n_kv)
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A valid file: two metadata keys, an F32 [2, 3] tensor and a Q8_0 [32] tensor.
fn valid() -> Builder {
    let mut q8 = vec![0x00, 0x3c]; // d = 1.0
    q8.extend((0..32i8).map(|q| (q - 16) as u8));
    let mut data = f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    data.resize(32, 0); // next tensor aligned to 32
    data.extend(q8);
    Builder::new()
        .kv_raw("general.architecture", 8, &{
            let mut v = Vec::new();
            Builder::string(&mut v, b"llama");
            v
        })
        .kv_u32("llama.block_count", 1)
        .tensor("a", &[3, 2], 0, 0)
        .tensor("b", &[32], 8, 32)
        .data(&data)
}

#[test]
fn valid_file_parses_and_dequantises() {
    let f = GgufFile::from_bytes(valid().build()).unwrap();
    assert_eq!(f.version, 3);
    assert_eq!(f.alignment, 32);
    assert_eq!(f.data_offset % 32, 0);
    assert_eq!(f.get("llama.block_count"), Some(&GgufValue::U32(1)));
    assert_eq!(
        f.get("general.architecture").and_then(|v| v.as_str()),
        Some("llama")
    );
    let a = f.tensor_info("a").unwrap();
    assert_eq!(a.torch_shape(), vec![2, 3]);
    assert_eq!(
        f.tensor_f32("a").unwrap(),
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    );
    let b = f.tensor_f32("b").unwrap();
    assert_eq!(b.len(), 32);
    assert_eq!(b[0], -16.0);
    assert_eq!(b[31], 15.0);
    assert!(matches!(
        f.tensor_f32("zzz"),
        Err(GgufError::MissingTensor { ref name }) if name == "zzz"
    ));
}

#[test]
fn every_truncation_is_a_typed_error() {
    let bytes = valid().build();
    // header + metadata + tensor infos end before the data section; the data itself is
    // bounds-checked per tensor
    for len in 0..bytes.len() {
        let err = GgufFile::from_bytes(bytes[..len].to_vec()).unwrap_err();
        assert!(
            matches!(
                err,
                GgufError::Truncated { .. }
                    | GgufError::TooMany { .. }
                    | GgufError::TensorOutOfBounds { .. }
            ),
            "prefix of {len} bytes gave {err:?}"
        );
    }
}

#[test]
fn truncation_names_the_field() {
    let bytes = valid().build();
    // cut inside the first key's string value: length read, bytes missing
    let err = GgufFile::from_bytes(bytes[..24 + 8 + 20 + 4 + 8 + 2].to_vec()).unwrap_err();
    match err {
        GgufError::Truncated {
            field,
            needed,
            available,
            ..
        } => {
            assert_eq!(field, "metadata `general.architecture`");
            assert_eq!(needed, 5);
            assert_eq!(available, 2);
        }
        other => panic!("{other:?}"),
    }
    // cut in the data section: the tensor is named
    let err = GgufFile::from_bytes(bytes[..bytes.len() - 1].to_vec()).unwrap_err();
    assert_eq!(
        err,
        GgufError::TensorOutOfBounds {
            tensor: "b".into(),
            start: 32,
            end: 66,
            data_len: 65
        }
    );
}

#[test]
fn bad_magic_and_versions() {
    let mut bytes = valid().build();
    bytes[..4].copy_from_slice(b"GGML");
    assert_eq!(
        GgufFile::from_bytes(bytes).unwrap_err(),
        GgufError::BadMagic { found: *b"GGML" }
    );
    for version in [1u32, 4, 3u32.swap_bytes()] {
        let mut b = valid();
        b.version = version;
        assert_eq!(
            GgufFile::from_bytes(b.build()).unwrap_err(),
            GgufError::UnsupportedVersion { version }
        );
    }
    let mut b = valid();
    b.version = 2;
    assert_eq!(GgufFile::from_bytes(b.build()).unwrap().version, 2);
}

#[test]
fn huge_counts_are_refused_before_allocating() {
    let b = valid();
    let err = GgufFile::from_bytes(b.build_with_counts(u64::MAX, 2)).unwrap_err();
    assert!(
        matches!(err, GgufError::TooMany { ref field, count, .. } if field == "tensor_count" && count == u64::MAX),
        "{err:?}"
    );
    let err = GgufFile::from_bytes(b.build_with_counts(2, 1 << 60)).unwrap_err();
    assert!(
        matches!(err, GgufError::TooMany { ref field, .. } if field == "metadata_kv_count"),
        "{err:?}"
    );
    // an array claiming 2^62 u32 elements
    let mut payload = 4u32.to_le_bytes().to_vec();
    payload.extend((1u64 << 62).to_le_bytes());
    let err = GgufFile::from_bytes(Builder::new().kv_raw("x", 9, &payload).build()).unwrap_err();
    assert!(
        matches!(err, GgufError::TooMany { ref field, count, .. } if field == "metadata `x` (array length)" && count == 1 << 62),
        "{err:?}"
    );
    // a string claiming 2^63 bytes
    let err = GgufFile::from_bytes(
        Builder::new()
            .kv_raw("s", 8, &(1u64 << 63).to_le_bytes())
            .build(),
    )
    .unwrap_err();
    assert!(matches!(err, GgufError::Truncated { needed, .. } if needed == 1 << 63));
}

#[test]
fn bad_values_and_types() {
    let err = GgufFile::from_bytes(Builder::new().kv_raw("k", 13, &[0; 8]).build()).unwrap_err();
    assert_eq!(
        err,
        GgufError::UnknownValueType {
            field: "metadata `k`".into(),
            type_id: 13
        }
    );
    let err = GgufFile::from_bytes(
        Builder::new()
            .kv_raw("k", 8, &[2, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe])
            .build(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        GgufError::InvalidUtf8 {
            field: "metadata `k`".into()
        }
    );
    let err =
        GgufFile::from_bytes(Builder::new().kv_u32("k", 1).kv_u32("k", 2).build()).unwrap_err();
    assert_eq!(err, GgufError::DuplicateKey { key: "k".into() });
    // arrays of arrays nested 9 deep
    let mut payload = Vec::new();
    for _ in 0..9 {
        payload.extend(9u32.to_le_bytes());
        payload.extend(1u64.to_le_bytes());
    }
    payload.extend(0u32.to_le_bytes());
    payload.extend(0u64.to_le_bytes());
    let err = GgufFile::from_bytes(Builder::new().kv_raw("deep", 9, &payload).build()).unwrap_err();
    assert!(matches!(err, GgufError::NestingTooDeep { .. }), "{err:?}");
    let err =
        GgufFile::from_bytes(Builder::new().kv_u32("general.alignment", 24).build()).unwrap_err();
    assert_eq!(err, GgufError::BadAlignment { value: 24 });
}

#[test]
fn bad_tensor_infos() {
    let data = vec![0u8; 64];
    let err = GgufFile::from_bytes(
        Builder::new()
            .tensor("t", &[1; 5], 0, 0)
            .data(&data)
            .build(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        GgufError::TooManyDims {
            tensor: "t".into(),
            n_dims: 5
        }
    );
    let err = GgufFile::from_bytes(
        Builder::new()
            .tensor("t", &[1 << 40, 1 << 40], 0, 0)
            .data(&data)
            .build(),
    )
    .unwrap_err();
    assert!(matches!(err, GgufError::SizeOverflow { ref tensor, .. } if tensor == "t"));
    // size fits u64 elements but not bytes / the file
    let err = GgufFile::from_bytes(
        Builder::new()
            .tensor("big", &[1 << 31, 1 << 31], 0, 0)
            .data(&data)
            .build(),
    )
    .unwrap_err();
    assert!(matches!(err, GgufError::TensorOutOfBounds { ref tensor, .. } if tensor == "big"));
    let err = GgufFile::from_bytes(Builder::new().tensor("t", &[4], 0, 8).data(&data).build())
        .unwrap_err();
    assert_eq!(
        err,
        GgufError::MisalignedTensor {
            tensor: "t".into(),
            offset: 8,
            alignment: 32
        }
    );
    let err = GgufFile::from_bytes(Builder::new().tensor("q", &[16], 2, 0).data(&data).build())
        .unwrap_err();
    assert!(
        matches!(err, GgufError::PartialBlock { ref tensor, row_len: 16, block: 32, .. } if tensor == "q")
    );
    let err = GgufFile::from_bytes(
        Builder::new()
            .tensor("t", &[1], 0, 0)
            .tensor("t", &[1], 0, 32)
            .data(&data)
            .build(),
    )
    .unwrap_err();
    assert_eq!(err, GgufError::DuplicateTensor { name: "t".into() });
    // an unknown dtype id parses, and is refused when read
    let f =
        GgufFile::from_bytes(Builder::new().tensor("x", &[4], 99, 0).data(&data).build()).unwrap();
    assert_eq!(f.tensor_info("x").unwrap().dtype, GgmlType::Other(99));
    assert_eq!(
        f.tensor_f32("x").unwrap_err(),
        GgufError::UnsupportedDtype {
            tensor: "x".into(),
            dtype: "type 99".into()
        }
    );
}

#[test]
fn model_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("taosr1-gguf-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.gguf");
    std::fs::write(&path, b"GGUF\x03\x00").unwrap();
    let err = GgufFile::open(&path).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("bad.gguf") && msg.contains("version"), "{msg}");
    assert!(matches!(
        err,
        ModelError::Gguf {
            source: GgufError::Truncated { .. },
            ..
        }
    ));
    let err = read_gguf(&dir.join("absent.gguf")).unwrap_err();
    assert!(matches!(err, ModelError::Io { .. }));
    // a well-formed file without the llama keys
    std::fs::write(&path, valid().build()).unwrap();
    let err = read_gguf(&path).unwrap_err();
    assert!(
        matches!(err, ModelError::Gguf { source: GgufError::MissingKey { ref key }, .. } if key == "llama.embedding_length"),
        "{err:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

//! Data model and JSONL I/O.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::CotError;
use crate::grade::{Grade, GradeScale};

/// A product as shown to the relevance model.
///
/// ```rust
/// use taosr1_cot::Product;
///
/// let p: Product = serde_json::from_str(
///     r#"{"title":"nike air running shoes red","category":"running shoes","brand":"nike"}"#,
/// )?;
/// assert!(p.attributes.is_empty()); // `attributes` may be omitted
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Product title.
    pub title: String,
    /// Product category, e.g. `running shoes` (empty when the data has none).
    #[serde(default)]
    pub category: String,
    /// Brand name (empty when the data has none).
    #[serde(default)]
    pub brand: String,
    /// Structured attributes (`color`, `size`, `material`, …), kept in sorted key order.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// An unlabelled query–product pair: what a relevance server reads.
///
/// ```rust
/// use taosr1_cot::Item;
///
/// let item: Item = serde_json::from_str(
///     r#"{"query":"red nike running shoes","product":{"title":"t","category":"c","brand":"b"}}"#,
/// )?;
/// assert_eq!(item.id, ""); // `id` may be omitted
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Identifier (may be empty).
    #[serde(default)]
    pub id: String,
    /// The user query.
    pub query: String,
    /// The candidate product.
    pub product: Product,
}

/// A labelled training example: a query–product pair with a rationale and a grade.
///
/// In JSONL files (see [`read_examples`] / [`write_examples`]) the grade is written as its label
/// (`"L3"`). The serde impls of this type itself write the grade as its numeric index, because a
/// [`Grade`] does not know its scale.
///
/// ```rust
/// use taosr1_cot::{Example, GradeScale, Product};
///
/// let scale = GradeScale::default();
/// let ex = Example {
///     id: "e1".into(),
///     query: "red nike running shoes".into(),
///     product: Product { title: "nike air".into(), ..Product::default() },
///     rationale: "category match .".into(),
///     grade: scale.best(),
///     score: None,
/// };
/// assert_eq!(ex.item().query, "red nike running shoes");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// Identifier (may be empty).
    #[serde(default)]
    pub id: String,
    /// The user query.
    pub query: String,
    /// The candidate product.
    pub product: Product,
    /// Chain-of-thought rationale (token convention, without tags).
    pub rationale: String,
    /// The relevance grade.
    pub grade: Grade,
    /// The numeric label the grade was cut from, when the data has one (a mean rating read
    /// through [`crate::adapter::LabelMap::CutPoints`]); finer than the grade, so a trainer
    /// can use it for soft targets. `None` for named or lettered grades.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

impl Example {
    /// The unlabelled part of the example.
    ///
    /// ```rust
    /// # use taosr1_cot::{Example, GradeScale, Product};
    /// let ex = Example {
    ///     id: "x".into(), query: "q".into(), product: Product::default(),
    ///     rationale: String::new(), grade: GradeScale::default().worst(),
    ///     score: None,
    /// };
    /// let item = ex.item();
    /// assert_eq!((item.id.as_str(), item.query.as_str()), ("x", "q"));
    /// ```
    pub fn item(&self) -> Item {
        Item {
            id: self.id.clone(),
            query: self.query.clone(),
            product: self.product.clone(),
        }
    }
}

/// The on-disk form of an example: the grade as a label.
#[derive(Deserialize)]
struct ExampleLine {
    #[serde(default)]
    id: String,
    query: String,
    product: Product,
    rationale: String,
    grade: String,
    #[serde(default)]
    score: Option<f64>,
}

#[derive(Serialize)]
struct ExampleLineRef<'a> {
    id: &'a str,
    query: &'a str,
    product: &'a Product,
    rationale: &'a str,
    grade: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
}

/// Calls `f(line_number, bytes)` for every non-blank line (1-based numbers, line ending kept).
/// Stops at the first error, from reading or from `f`.
fn for_each_line<R: BufRead>(
    mut reader: R,
    mut f: impl FnMut(usize, &[u8]) -> Result<(), CotError>,
) -> Result<(), CotError> {
    let mut buf = Vec::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        let n = match reader.read_until(b'\n', &mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Ok(());
        }
        line += 1;
        let mut bytes: &[u8] = &buf;
        if line == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        f(line, bytes)?;
    }
}

fn parse_example(line: usize, bytes: &[u8], scale: &GradeScale) -> Result<Example, CotError> {
    let raw: ExampleLine =
        serde_json::from_slice(bytes).map_err(|source| CotError::Json { line, source })?;
    let grade = scale
        .parse(&raw.grade)
        .map_err(|_| CotError::UnknownGrade {
            line,
            label: raw.grade.clone(),
        })?;
    Ok(Example {
        id: raw.id,
        query: raw.query,
        product: raw.product,
        rationale: raw.rationale,
        grade,
        score: raw.score,
    })
}

/// Reads labelled examples from JSONL (one JSON object per line, blank lines skipped).
///
/// Each line is `{"id":…,"query":…,"product":{…},"rationale":…,"grade":"L3"}`; `id` may be
/// omitted. Stops at the first bad line.
///
/// # Errors
/// [`CotError::Json`] / [`CotError::UnknownGrade`] with the 1-based line number,
/// [`CotError::Io`] if reading fails.
///
/// ```rust
/// use taosr1_cot::{read_examples, CotError, GradeScale};
///
/// let scale = GradeScale::default();
/// let jsonl = r#"{"query":"red shoes","product":{"title":"t","category":"c","brand":"b"},"rationale":"ok .","grade":"L3"}
///
/// {"query":"q","product":{"title":"t","category":"c","brand":"b"},"rationale":"","grade":"L7"}
/// "#;
/// let err = read_examples(jsonl.as_bytes(), &scale).unwrap_err();
/// assert!(matches!(err, CotError::UnknownGrade { line: 3, ref label } if label == "L7"));
/// ```
pub fn read_examples<R: BufRead>(reader: R, scale: &GradeScale) -> Result<Vec<Example>, CotError> {
    let mut out = Vec::new();
    for_each_line(reader, |line, bytes| {
        out.push(parse_example(line, bytes, scale)?);
        Ok(())
    })?;
    Ok(out)
}

/// Reads labelled examples, keeping every good line and reporting every bad one.
///
/// Returns the parsed examples (in file order) and one error per bad line (plus a final
/// [`CotError::Io`] if the stream itself failed).
///
/// ```rust
/// use taosr1_cot::{read_examples_lenient, CotError, GradeScale};
///
/// let jsonl = "not json\n{\"query\":\"q\",\"product\":{\"title\":\"t\",\"category\":\"c\",\"brand\":\"b\"},\"rationale\":\"\",\"grade\":\"L2\"}\n";
/// let (examples, errors) = read_examples_lenient(jsonl.as_bytes(), &GradeScale::default());
/// assert_eq!(examples.len(), 1);
/// assert!(matches!(errors[..], [CotError::Json { line: 1, .. }]));
/// ```
pub fn read_examples_lenient<R: BufRead>(
    reader: R,
    scale: &GradeScale,
) -> (Vec<Example>, Vec<CotError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let res = for_each_line(reader, |line, bytes| {
        match parse_example(line, bytes, scale) {
            Ok(ex) => out.push(ex),
            Err(e) => errors.push(e),
        }
        Ok(())
    });
    // Only a read error can end the iteration early.
    if let Err(e) = res {
        errors.push(e);
    }
    (out, errors)
}

/// Reads unlabelled items from JSONL, one result per non-blank line, in input order: a bad
/// line does not stop the others. Each entry is `(1-based line number, item or error)`; a read
/// error (I/O, not UTF-8 at the stream level) ends the list with one last `Err` entry.
///
/// ```rust
/// use taosr1_cot::read_items_lenient;
///
/// let ok = r#"{"query":"q","product":{"title":"t","category":"c","brand":"b"}}"#;
/// let jsonl = format!("{ok}\n{{oops\n\n{ok}\n");
/// let entries = read_items_lenient(jsonl.as_bytes());
/// let lines: Vec<usize> = entries.iter().map(|(line, _)| *line).collect();
/// assert_eq!(lines, vec![1, 2, 4]);
/// assert!(entries[0].1.is_ok() && entries[1].1.is_err() && entries[2].1.is_ok());
/// ```
pub fn read_items_lenient<R: BufRead>(reader: R) -> Vec<(usize, Result<Item, CotError>)> {
    let mut out = Vec::new();
    let mut last = 0;
    let res = for_each_line(reader, |line, bytes| {
        last = line;
        out.push((
            line,
            serde_json::from_slice(bytes).map_err(|source| CotError::Json { line, source }),
        ));
        Ok(())
    });
    if let Err(e) = res {
        out.push((last + 1, Err(e)));
    }
    out
}

/// Reads unlabelled items from JSONL (blank lines skipped). Extra fields such as `grade` are
/// ignored, so a labelled file can be read as items.
///
/// # Errors
/// [`CotError::Json`] with the 1-based line number, [`CotError::Io`] if reading fails.
///
/// ```rust
/// use taosr1_cot::read_items;
///
/// let jsonl = r#"{"id":"a","query":"q","product":{"title":"t","category":"c","brand":"b","attributes":{"color":"red"}}}"#;
/// let items = read_items(jsonl.as_bytes())?;
/// assert_eq!(items[0].product.attributes["color"], "red");
/// # Ok::<(), taosr1_cot::CotError>(())
/// ```
pub fn read_items<R: BufRead>(reader: R) -> Result<Vec<Item>, CotError> {
    let mut out = Vec::new();
    for_each_line(reader, |line, bytes| {
        let item =
            serde_json::from_slice(bytes).map_err(|source| CotError::Json { line, source })?;
        out.push(item);
        Ok(())
    })?;
    Ok(out)
}

fn write_line<W: Write, T: Serialize>(
    writer: &mut W,
    line: usize,
    value: &T,
) -> Result<(), CotError> {
    let mut bytes = serde_json::to_vec(value).map_err(|source| CotError::Json { line, source })?;
    bytes.push(b'\n');
    writer.write_all(&bytes)?;
    Ok(())
}

/// Writes examples as JSONL, one object per line, grades as labels.
///
/// # Errors
/// [`CotError::GradeOutOfRange`] if an example's grade is not on `scale` (nothing after it is
/// written), [`CotError::Io`] if writing fails.
///
/// ```rust
/// use taosr1_cot::{read_examples, write_examples, Example, GradeScale, Product};
///
/// let scale = GradeScale::default();
/// let ex = Example {
///     id: "1".into(), query: "q".into(), product: Product::default(),
///     rationale: "category match .".into(), grade: scale.parse("L3")?, score: None,
/// };
/// let mut buf = Vec::new();
/// write_examples(&mut buf, std::slice::from_ref(&ex), &scale)?;
/// assert!(String::from_utf8_lossy(&buf).contains(r#""grade":"L3""#));
/// assert_eq!(read_examples(&buf[..], &scale)?, vec![ex]);
/// # Ok::<(), taosr1_cot::CotError>(())
/// ```
pub fn write_examples<W: Write>(
    mut writer: W,
    examples: &[Example],
    scale: &GradeScale,
) -> Result<(), CotError> {
    for (i, ex) in examples.iter().enumerate() {
        if !scale.contains(ex.grade) {
            return Err(CotError::GradeOutOfRange {
                index: ex.grade.index(),
                len: scale.len(),
            });
        }
        let line = ExampleLineRef {
            id: &ex.id,
            query: &ex.query,
            product: &ex.product,
            rationale: &ex.rationale,
            grade: scale.label(ex.grade),
            score: ex.score,
        };
        write_line(&mut writer, i + 1, &line)?;
    }
    writer.flush()?;
    Ok(())
}

/// Writes items as JSONL, one object per line.
///
/// # Errors
/// [`CotError::Io`] if writing fails.
///
/// ```rust
/// use taosr1_cot::{read_items, write_items, Item};
///
/// let items = vec![Item { id: "a".into(), query: "q".into(), ..Item::default() }];
/// let mut buf = Vec::new();
/// write_items(&mut buf, &items)?;
/// assert_eq!(read_items(&buf[..])?, items);
/// # Ok::<(), taosr1_cot::CotError>(())
/// ```
pub fn write_items<W: Write>(mut writer: W, items: &[Item]) -> Result<(), CotError> {
    for (i, item) in items.iter().enumerate() {
        write_line(&mut writer, i + 1, item)?;
    }
    writer.flush()?;
    Ok(())
}

fn in_file(path: &Path) -> impl FnOnce(CotError) -> CotError + '_ {
    move |e| CotError::File {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

/// Reads labelled examples from a JSONL file (see [`read_examples`]).
///
/// # Errors
/// [`CotError::File`] naming the path, wrapping the underlying error.
///
/// ```rust
/// use taosr1_cot::{load_examples, CotError, GradeScale};
///
/// let err = load_examples("/no/such/file.jsonl", &GradeScale::default()).unwrap_err();
/// assert!(matches!(&err, CotError::File { path, .. } if path.ends_with("file.jsonl")));
/// assert!(err.to_string().starts_with("/no/such/file.jsonl: "));
/// ```
pub fn load_examples(path: impl AsRef<Path>, scale: &GradeScale) -> Result<Vec<Example>, CotError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| in_file(path)(e.into()))?;
    read_examples(BufReader::new(file), scale).map_err(in_file(path))
}

/// Reads unlabelled items from a JSONL file (see [`read_items`]).
///
/// # Errors
/// [`CotError::File`] naming the path, wrapping the underlying error.
///
/// ```rust
/// use taosr1_cot::{load_items, CotError};
///
/// assert!(matches!(load_items("/no/such/items.jsonl"), Err(CotError::File { .. })));
/// ```
pub fn load_items(path: impl AsRef<Path>) -> Result<Vec<Item>, CotError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| in_file(path)(e.into()))?;
    read_items(BufReader::new(file)).map_err(in_file(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn line(query: &str, grade: &str) -> String {
        format!(
            r#"{{"id":"x","query":"{query}","product":{{"title":"t","category":"c","brand":"b","attributes":{{"color":"red"}}}},"rationale":"r .","grade":"{grade}"}}"#
        )
    }

    /// The probe categories of bad input, line by line: each bad line is its own typed error
    /// with its line number, and every good line (BOM, CRLF) is still read.
    #[test]
    fn lenient_items_survive_the_bad_input_probes() {
        let good = r#"{"id":"g","query":"q","product":{"title":"t","category":"c","brand":"b"}}"#;
        let mut bytes = b"\xEF\xBB\xBF".to_vec(); // BOM on line 1
        bytes.extend_from_slice(good.as_bytes());
        bytes.extend_from_slice(b"\r\n"); // CRLF
        bytes.extend_from_slice(b"{\"id\":\"x\",\"query\":\"\xFF\xFE\"}\n"); // not UTF-8
        bytes.extend_from_slice(b"{\"query\":\"q\"}\n"); // missing product
        bytes.extend_from_slice(b"[1, 2]\n"); // wrong shape
        bytes.extend_from_slice(b"{\"query\":\"q\",\"product\":{\"title\":\"t\"}\n"); // truncated
        bytes.extend_from_slice(good.as_bytes()); // last line without a newline
        let entries = read_items_lenient(&bytes[..]);
        let lines: Vec<usize> = entries.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![1, 2, 3, 4, 5, 6]);
        let ok: Vec<bool> = entries.iter().map(|(_, r)| r.is_ok()).collect();
        assert_eq!(ok, vec![true, false, false, false, false, true]);
        for (line, r) in &entries[1..5] {
            match r {
                Err(CotError::Json { line: l, .. }) => assert_eq!(l, line),
                other => panic!("line {line}: {other:?}"),
            }
        }
        assert!(read_items_lenient(&b""[..]).is_empty()); // empty input: nothing, no error
        assert!(read_items_lenient(&b"\n  \n"[..]).is_empty());
    }

    #[test]
    fn reads_examples_and_skips_blank_lines() {
        let s = GradeScale::default();
        let text = format!("\n{}\n   \r\n{}\r\n", line("a", "L1"), line("b", "L4"));
        let v = read_examples(text.as_bytes(), &s).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].query, "a");
        assert_eq!(v[0].grade, s.worst());
        assert_eq!(v[1].grade, s.best());
        assert_eq!(v[1].product.attributes["color"], "red");
        assert_eq!(v[1].rationale, "r .");
    }

    #[test]
    fn json_error_carries_line_number() {
        let s = GradeScale::default();
        let text = format!(
            "{}\n\n{{\"query\": \n{}\n",
            line("a", "L1"),
            line("b", "L2")
        );
        match read_examples(text.as_bytes(), &s) {
            Err(CotError::Json { line, .. }) => assert_eq!(line, 3),
            other => panic!("expected Json error, got {other:?}"),
        }
        // Missing required field.
        let text =
            r#"{"query":"q","product":{"title":"t","category":"c","brand":"b"},"grade":"L1"}"#;
        assert!(matches!(
            read_examples(text.as_bytes(), &s),
            Err(CotError::Json { line: 1, .. })
        ));
        // Trailing garbage after the object.
        let text = format!("{} x", line("a", "L1"));
        assert!(matches!(
            read_examples(text.as_bytes(), &s),
            Err(CotError::Json { line: 1, .. })
        ));
        // Invalid UTF-8 inside a string is a JSON error, not a panic.
        let mut bytes = line("a", "L1").into_bytes();
        bytes.extend_from_slice(b"\n{\"query\":\"\xff\"}\n");
        assert!(matches!(
            read_examples(&bytes[..], &s),
            Err(CotError::Json { line: 2, .. })
        ));
    }

    #[test]
    fn unknown_grade_carries_line_and_label() {
        let s = GradeScale::default();
        let text = format!("{}\n{}\n", line("a", "L2"), line("b", "L5"));
        match read_examples(text.as_bytes(), &s) {
            Err(CotError::UnknownGrade { line, label }) => {
                assert_eq!(line, 2);
                assert_eq!(label, "L5");
            }
            other => panic!("expected UnknownGrade, got {other:?}"),
        }
    }

    #[test]
    fn lenient_reader_keeps_good_and_reports_every_bad_line() {
        let s = GradeScale::default();
        let text = format!(
            "{}\nnope\n{}\n\n{}\n{}\n",
            line("a", "L1"),
            line("b", "bogus"),
            line("c", "L3"),
            line("d", "L4")
        );
        let (v, errs) = read_examples_lenient(text.as_bytes(), &s);
        let queries: Vec<&str> = v.iter().map(|e| e.query.as_str()).collect();
        assert_eq!(queries, ["a", "c", "d"]);
        assert_eq!(errs.len(), 2);
        assert!(matches!(errs[0], CotError::Json { line: 2, .. }));
        assert!(matches!(&errs[1], CotError::UnknownGrade { line: 3, label } if label == "bogus"));
    }

    #[test]
    fn bom_is_skipped() {
        let s = GradeScale::default();
        let text = format!("\u{feff}{}\n", line("a", "L1"));
        assert_eq!(read_examples(text.as_bytes(), &s).unwrap().len(), 1);
    }

    struct FailingReader;
    impl Read for FailingReader {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("boom"))
        }
    }

    #[test]
    fn io_errors_are_typed() {
        let s = GradeScale::default();
        let r = BufReader::new(FailingReader);
        assert!(matches!(read_examples(r, &s), Err(CotError::Io { .. })));
        let (v, errs) = read_examples_lenient(BufReader::new(FailingReader), &s);
        assert!(v.is_empty());
        assert!(matches!(errs[..], [CotError::Io { .. }]));
        assert!(matches!(
            read_items(BufReader::new(FailingReader)),
            Err(CotError::Io { .. })
        ));
    }

    #[test]
    fn write_read_round_trip_and_format() {
        let s = GradeScale::default();
        let mut attrs = BTreeMap::new();
        attrs.insert("size".to_string(), "42".to_string());
        attrs.insert("color".to_string(), "red".to_string());
        let ex = Example {
            id: "e\"1".into(),
            query: "red nike running shoes".into(),
            product: Product {
                title: "nike air running shoes red".into(),
                category: "running shoes".into(),
                brand: "nike".into(),
                attributes: attrs,
            },
            rationale: "category match .".into(),
            grade: s.parse("L4").unwrap(),
            score: None,
        };
        let mut buf = Vec::new();
        write_examples(&mut buf, &[ex.clone(), ex.clone()], &s).unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert_eq!(
            text.lines().next().unwrap(),
            r#"{"id":"e\"1","query":"red nike running shoes","product":{"title":"nike air running shoes red","category":"running shoes","brand":"nike","attributes":{"color":"red","size":"42"}},"rationale":"category match .","grade":"L4"}"#
        );
        assert_eq!(
            read_examples(&buf[..], &s).unwrap(),
            vec![ex.clone(), ex.clone()]
        );
        // Items can be read from a labelled file.
        let items = read_items(&buf[..]).unwrap();
        assert_eq!(items, vec![ex.item(), ex.item()]);
        // a rating is written only when there is one, and read back
        let rated = Example {
            score: Some(2.33),
            ..ex.clone()
        };
        let mut buf = Vec::new();
        write_examples(&mut buf, std::slice::from_ref(&rated), &s).unwrap();
        assert!(String::from_utf8_lossy(&buf).ends_with(
            r#""grade":"L4","score":2.33}
"#
        ));
        assert_eq!(read_examples(&buf[..], &s).unwrap(), vec![rated]);
    }

    #[test]
    fn writing_a_foreign_grade_is_an_error() {
        let big = GradeScale::new(["a", "b", "c", "d", "e"]).unwrap();
        let ex = Example {
            id: String::new(),
            query: "q".into(),
            product: Product::default(),
            rationale: String::new(),
            grade: big.best(),
            score: None,
        };
        let mut buf = Vec::new();
        assert!(matches!(
            write_examples(&mut buf, &[ex], &GradeScale::default()),
            Err(CotError::GradeOutOfRange { index: 4, len: 4 })
        ));
        assert!(buf.is_empty());
    }

    #[test]
    fn load_errors_name_the_path() {
        let dir = std::env::temp_dir().join(format!("taosr1-cot-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.jsonl");
        std::fs::write(&path, format!("{}\n{{oops\n", line("a", "L1"))).unwrap();
        let err = load_examples(&path, &GradeScale::default()).unwrap_err();
        match &err {
            CotError::File { path: p, source } => {
                assert_eq!(p, &path);
                assert!(matches!(**source, CotError::Json { line: 2, .. }));
            }
            other => panic!("expected File error, got {other:?}"),
        }
        assert!(err.to_string().contains("bad.jsonl"));
        assert!(err.to_string().contains("line 2"));
        let err = load_items(&path).unwrap_err();
        assert!(
            matches!(&err, CotError::File { source, .. } if matches!(**source, CotError::Json { line: 2, .. }))
        );
        let good = dir.join("good.jsonl");
        std::fs::write(&good, format!("{}\n", line("a", "L1"))).unwrap();
        assert_eq!(
            load_examples(&good, &GradeScale::default()).unwrap().len(),
            1
        );
        assert_eq!(load_items(&good).unwrap()[0].id, "x");
        let missing = dir.join("missing.jsonl");
        assert!(matches!(
            load_items(&missing),
            Err(CotError::File { source, .. }) if matches!(*source, CotError::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

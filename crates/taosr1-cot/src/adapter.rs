//! Real relevance data in: CSV or JSONL files whose columns a [`ColumnSpec`] names, labels
//! mapped to grades by a [`LabelMap`], and a deterministic split by query.
//!
//! Only the query, the title and the label are required; description, category and brand
//! columns are optional. A row that cannot be used is reported as `file:line: reason`
//! ([`CotError::Row`]) and either skipped ([`Adapted::rejected`]) or fatal (`strict`).
//! Nothing is scored from garbage: an empty query or title, a label outside the map, or a
//! non-numeric rating is a rejected row, never a default.
//!
//! ```
//! use taosr1_cot::adapter::{read_csv_str, ColumnSpec, LabelMap};
//! use taosr1_cot::GradeScale;
//! let csv = "id,search_term,product_title,relevance\n1,angle bracket,Simpson Strong-Tie 12-Gauge Angle,3\n2,deck over,BEHR Premium Textured DeckOver,2.33\n3,x,,1\n";
//! let spec = ColumnSpec::home_depot();
//! let out = read_csv_str(csv, "hd.csv", &spec, &GradeScale::default(), false)?;
//! assert_eq!(out.examples.len(), 2);
//! assert_eq!(out.examples[1].grade.index(), 2); // 2.33 -> L3
//! assert_eq!(out.examples[1].score, Some(2.33)); // and the rating, for soft targets
//! assert_eq!(out.rejected.len(), 1); // empty title
//! assert!(out.rejected[0].to_string().starts_with("hd.csv:4: "));
//! # Ok::<(), taosr1_cot::CotError>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{CotError, Example, Grade, GradeScale, Product};

/// How a label cell becomes a grade (0-based index, 0 = worst).
///
/// ```
/// use taosr1_cot::adapter::{read_csv_str, ColumnSpec, LabelMap};
/// use taosr1_cot::{CotError, GradeScale};
/// let csv = "q,t,rating\nhose,Garden Hose 50 ft,1.67\nhose,Hose Reel,1.5\n";
/// let mut spec = ColumnSpec { label: "rating".into(), ..ColumnSpec::home_depot() };
/// (spec.id, spec.query, spec.title) = (None, "q".into(), "t".into());
/// let out = read_csv_str(csv, "r.csv", &spec, &GradeScale::default(), true)?;
/// let grades: Vec<usize> = out.examples.iter().map(|e| e.grade.index()).collect();
/// assert_eq!(grades, [1, 0]); // 1.67 is at least the first cut (1.6): L2; 1.5 is L1
///
/// // Cut points that are not increasing are a spec error, not a silent mapping.
/// spec.labels = LabelMap::CutPoints(vec![2.3, 1.6, 2.9]);
/// let err = read_csv_str(csv, "r.csv", &spec, &GradeScale::default(), true).unwrap_err();
/// assert!(matches!(err, CotError::Spec(_)));
/// # Ok::<(), CotError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelMap {
    /// The cell is a label of the grade scale (`L1` … `L4`).
    Names,
    /// Each cell value (e.g. the ESCI letters `E`, `S`, `C`, `I`) names a grade index.
    Letters(BTreeMap<String, usize>),
    /// The cell is a number; `cut_points[k]` is the smallest value of grade `k + 1`, in
    /// increasing order (one fewer than the grades). Home Depot's mean ratings:
    /// `[1.6, 2.3, 2.9]` give 1.00–1.50 → L1, 1.67–2.25 → L2, 2.33–2.75 → L3, 3.00 → L4.
    CutPoints(Vec<f64>),
}

impl LabelMap {
    /// The grade of `cell`, and the number it was cut from (cut points only).
    fn grade(&self, cell: &str, scale: &GradeScale) -> Result<(Grade, Option<f64>), String> {
        let cell = cell.trim();
        match self {
            Self::Names => scale
                .parse(cell)
                .map(|g| (g, None))
                .map_err(|_| format!("label `{cell}` is not one of {:?}", scale.labels())),
            Self::Letters(map) => {
                let index = map
                    .get(cell)
                    .ok_or_else(|| format!("label `{cell}` is not in the label map"))?;
                scale
                    .grade(*index)
                    .map(|g| (g, None))
                    .map_err(|e| e.to_string())
            }
            Self::CutPoints(cuts) => {
                let v: f64 = cell
                    .parse()
                    .map_err(|_| format!("label `{cell}` is not a number"))?;
                if !v.is_finite() {
                    return Err(format!("label `{cell}` is not a finite number"));
                }
                let index = cuts.iter().take_while(|&&c| v >= c).count();
                scale
                    .grade(index)
                    .map(|g| (g, Some(v)))
                    .map_err(|e| e.to_string())
            }
        }
    }

    fn validate(&self, scale: &GradeScale) -> Result<(), CotError> {
        match self {
            Self::Names => Ok(()),
            Self::Letters(map) => match map.iter().find(|&(_, &i)| i >= scale.len()) {
                Some((k, i)) => Err(CotError::Spec(format!(
                    "label `{k}` maps to grade index {i}, but the scale has {} grades",
                    scale.len()
                ))),
                None => Ok(()),
            },
            Self::CutPoints(cuts) => {
                if cuts.len() + 1 != scale.len() {
                    return Err(CotError::Spec(format!(
                        "{} cut points for {} grades (need one fewer than the grades)",
                        cuts.len(),
                        scale.len()
                    )));
                }
                if cuts.iter().any(|c| !c.is_finite()) || cuts.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(CotError::Spec(format!(
                        "cut points {cuts:?} must be finite and strictly increasing"
                    )));
                }
                Ok(())
            }
        }
    }
}

/// Which columns (CSV header names or JSON keys) hold what.
///
/// ```
/// use taosr1_cot::adapter::{read_csv_str, ColumnSpec, LabelMap};
/// use taosr1_cot::GradeScale;
/// let csv = "query,product_title,product_brand,esci_label\n\
///            drill,DEWALT 20V Cordless Drill,DEWALT,E\n";
/// let spec = ColumnSpec {
///     id: None,
///     query: "query".into(),
///     title: "product_title".into(),
///     description: None,
///     category: None,
///     brand: Some("product_brand".into()),
///     label: "esci_label".into(),
///     labels: LabelMap::Letters([("E", 3), ("S", 2), ("C", 1), ("I", 0)]
///         .into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
/// };
/// let out = read_csv_str(csv, "esci.csv", &spec, &GradeScale::default(), true)?;
/// let row = &out.examples[0];
/// assert_eq!((row.product.brand.as_str(), row.grade.index()), ("DEWALT", 3));
/// assert_eq!(row.id, "line-2"); // no id column: the line number names the row
/// # Ok::<(), taosr1_cot::CotError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnSpec {
    /// Row identifier column (optional; the line number is used when absent).
    pub id: Option<String>,
    /// The search query (required).
    pub query: String,
    /// The product title (required).
    pub title: String,
    /// A description column, folded into the `description` attribute.
    pub description: Option<String>,
    /// A category column.
    pub category: Option<String>,
    /// A brand column.
    pub brand: Option<String>,
    /// The label column (required).
    pub label: String,
    /// How labels become grades.
    pub labels: LabelMap,
}

impl ColumnSpec {
    /// The Home Depot Kaggle file (`id, product_uid, product_title, search_term,
    /// relevance`), with the mean rating bucketed into four grades: 3.00 → L4, 2.33–2.75 →
    /// L3, 1.67–2.25 → L2, 1.00–1.50 → L1.
    ///
    /// ```
    /// let spec = taosr1_cot::adapter::ColumnSpec::home_depot();
    /// assert_eq!(spec.query, "search_term");
    /// ```
    pub fn home_depot() -> Self {
        Self {
            id: Some("id".into()),
            query: "search_term".into(),
            title: "product_title".into(),
            description: None,
            category: None,
            brand: None,
            label: "relevance".into(),
            labels: LabelMap::CutPoints(vec![1.6, 2.3, 2.9]),
        }
    }
}

/// The examples read and the rows skipped (each a [`CotError::Row`]).
///
/// ```
/// use taosr1_cot::adapter::{read_csv_str, ColumnSpec};
/// use taosr1_cot::{CotError, GradeScale};
/// let csv = "id,search_term,product_title,relevance\n1,hose,Garden Hose,3\n2,hose,Reel,n/a\n";
/// let spec = ColumnSpec::home_depot();
/// let out = read_csv_str(csv, "hd.csv", &spec, &GradeScale::default(), false)?;
/// assert_eq!((out.examples.len(), out.rejected.len()), (1, 1));
/// assert!(out.rejected[0].to_string().starts_with("hd.csv:3: "));
/// // With `strict`, the same row is fatal.
/// let err = read_csv_str(csv, "hd.csv", &spec, &GradeScale::default(), true).unwrap_err();
/// assert!(matches!(err, CotError::Row { line: 3, .. }));
/// # Ok::<(), CotError>(())
/// ```
#[derive(Debug)]
pub struct Adapted {
    /// Usable rows, in file order (no rationale: the data has none).
    pub examples: Vec<Example>,
    /// Rows that were skipped, with `file:line: reason`.
    pub rejected: Vec<CotError>,
}

impl Adapted {
    /// Keep a row's example, or its error: skipped (kept in `rejected`) or, with `strict`,
    /// returned as [`CotError::Row`].
    fn record(
        &mut self,
        row: Result<Example, String>,
        origin: &str,
        line: usize,
        strict: bool,
    ) -> Result<(), CotError> {
        match row {
            Ok(ex) => self.examples.push(ex),
            Err(reason) => {
                let err = row_err(origin, line, reason);
                if strict {
                    return Err(err);
                }
                self.rejected.push(err);
            }
        }
        Ok(())
    }
}

fn row_err(path: &str, line: usize, reason: String) -> CotError {
    CotError::Row {
        path: PathBuf::from(path),
        line,
        reason,
    }
}

/// Build one example from a row given as a column lookup.
fn example_from<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    spec: &ColumnSpec,
    scale: &GradeScale,
    line: usize,
) -> Result<Example, String> {
    let required = |col: &str| -> Result<String, String> {
        let v = get(col).map(str::trim).unwrap_or("");
        if v.is_empty() {
            Err(format!("column `{col}` is empty"))
        } else {
            Ok(v.to_string())
        }
    };
    let optional = |col: &Option<String>| -> String {
        col.as_deref()
            .and_then(&get)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let query = required(&spec.query)?;
    let title = required(&spec.title)?;
    let label = required(&spec.label)?;
    let (grade, score) = spec
        .labels
        .grade(&label, scale)
        .map_err(|e| format!("column `{}`: {e}", spec.label))?;
    let mut attributes = BTreeMap::new();
    let description = optional(&spec.description);
    if !description.is_empty() {
        attributes.insert("description".to_string(), description);
    }
    let id = match &spec.id {
        Some(_) => optional(&spec.id),
        None => String::new(),
    };
    Ok(Example {
        id: if id.is_empty() {
            format!("line-{line}")
        } else {
            id
        },
        query,
        product: Product {
            title,
            category: optional(&spec.category),
            brand: optional(&spec.brand),
            attributes,
        },
        rationale: String::new(),
        grade,
        score,
    })
}

/// Read CSV text (header row first); `origin` names the file in errors.
///
/// # Errors
/// [`CotError::Spec`] when a required column is not in the header or the label map does not
/// fit the scale; with `strict`, the first bad row as [`CotError::Row`].
///
/// ```
/// use taosr1_cot::adapter::{read_csv_str, ColumnSpec};
/// use taosr1_cot::{CotError, GradeScale};
/// let quoted = "id,search_term,product_title,relevance\n7,\"2x4, 8 ft\",\"Lumber, Stud\",2.67\n";
/// let out = read_csv_str(quoted, "hd.csv", &ColumnSpec::home_depot(), &GradeScale::default(), true)?;
/// assert_eq!(out.examples[0].product.title, "Lumber, Stud");
/// let err = read_csv_str("id,query\n", "x.csv", &ColumnSpec::home_depot(),
///                        &GradeScale::default(), false).unwrap_err();
/// assert!(matches!(err, CotError::Spec(ref m) if m.contains("search_term")));
/// # Ok::<(), CotError>(())
/// ```
pub fn read_csv_str(
    text: &str,
    origin: &str,
    spec: &ColumnSpec,
    scale: &GradeScale,
    strict: bool,
) -> Result<Adapted, CotError> {
    spec.labels.validate(scale)?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| row_err(origin, 1, format!("header: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let columns: BTreeMap<&str, usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.as_str(), i))
        .collect();
    let named = [Some(&spec.query), Some(&spec.title), Some(&spec.label)]
        .into_iter()
        .chain([
            spec.id.as_ref(),
            spec.description.as_ref(),
            spec.category.as_ref(),
            spec.brand.as_ref(),
        ])
        .flatten();
    for col in named {
        if !columns.contains_key(col.as_str()) {
            return Err(CotError::Spec(format!(
                "{origin}: column `{col}` is not in the header {header:?}"
            )));
        }
    }
    let mut out = Adapted {
        examples: Vec::new(),
        rejected: Vec::new(),
    };
    for record in reader.records() {
        let (record, line) = match record {
            Ok(r) => {
                let line = r.position().map_or(0, |p| p.line() as usize);
                (r, line)
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                out.record(
                    Err(format!("unreadable CSV row: {e}")),
                    origin,
                    line,
                    strict,
                )?;
                continue;
            }
        };
        let get = |col: &str| columns.get(col).and_then(|&i| record.get(i));
        out.record(example_from(get, spec, scale, line), origin, line, strict)?;
    }
    Ok(out)
}

/// Read a CSV file ([`read_csv_str`]); errors name the file.
///
/// ```
/// use taosr1_cot::adapter::{read_csv, ColumnSpec};
/// let err = read_csv(std::path::Path::new("/no/such.csv"), &ColumnSpec::home_depot(),
///                    &taosr1_cot::GradeScale::default(), false).unwrap_err();
/// assert!(err.to_string().contains("/no/such.csv"));
/// ```
pub fn read_csv(
    path: &Path,
    spec: &ColumnSpec,
    scale: &GradeScale,
    strict: bool,
) -> Result<Adapted, CotError> {
    let text = std::fs::read_to_string(path).map_err(|e| CotError::File {
        path: path.to_path_buf(),
        source: Box::new(CotError::Io { source: e }),
    })?;
    read_csv_str(&text, &path.display().to_string(), spec, scale, strict)
}

/// Read JSONL text: one object per line whose keys the spec names (values may be strings
/// or numbers); blank lines are skipped.
///
/// ```
/// use taosr1_cot::adapter::{read_jsonl_str, ColumnSpec, LabelMap};
/// let spec = ColumnSpec { id: None, query: "q".into(), title: "t".into(), description: None,
///     category: None, brand: None, label: "esci".into(),
///     labels: LabelMap::Letters([("E", 3), ("S", 2), ("C", 1), ("I", 0)].into_iter().map(|(k, v)| (k.to_string(), v)).collect()) };
/// let out = read_jsonl_str("{\"q\":\"drill\",\"t\":\"Cordless Drill\",\"esci\":\"E\"}\n{\"q\":\"drill\",\"t\":\"Hammer\",\"esci\":\"X\"}\n",
///     "esci.jsonl", &spec, &taosr1_cot::GradeScale::default(), false)?;
/// assert_eq!(out.examples[0].grade.index(), 3);
/// assert_eq!(out.rejected.len(), 1);
/// # Ok::<(), taosr1_cot::CotError>(())
/// ```
pub fn read_jsonl_str(
    text: &str,
    origin: &str,
    spec: &ColumnSpec,
    scale: &GradeScale,
    strict: bool,
) -> Result<Adapted, CotError> {
    spec.labels.validate(scale)?;
    let mut out = Adapted {
        examples: Vec::new(),
        rejected: Vec::new(),
    };
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let parsed: Result<serde_json::Map<String, serde_json::Value>, String> =
            serde_json::from_str(raw).map_err(|e| format!("invalid JSON object: {e}"));
        let result = parsed.and_then(|obj| {
            let cells: BTreeMap<String, String> = obj
                .iter()
                .filter_map(|(k, v)| match v {
                    serde_json::Value::String(s) => Some((k.clone(), s.clone())),
                    serde_json::Value::Number(n) => Some((k.clone(), n.to_string())),
                    _ => None,
                })
                .collect();
            example_from(|c| cells.get(c).map(String::as_str), spec, scale, line)
        });
        out.record(result, origin, line, strict)?;
    }
    Ok(out)
}

/// Indices of the rows of each query, queries in order of first appearance and rows in input
/// order within each: the unit that a query-level bootstrap resamples, that per-query NDCG
/// ranks within, and whose shared prompt prefix label-first scoring prefills once.
///
/// ```
/// let g = taosr1_cot::adapter::group_by_query(["drill", "hose", "drill", "saw", "hose"]);
/// assert_eq!(g, vec![vec![0, 2], vec![1, 4], vec![3]]);
/// ```
pub fn group_by_query<'a>(queries: impl IntoIterator<Item = &'a str>) -> Vec<Vec<usize>> {
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, query) in queries.into_iter().enumerate() {
        let g = *index.entry(query).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    groups
}

/// The order in which [`take_queries`] counts the queries of a split.
///
/// ```
/// use taosr1_cot::adapter::QueryOrder;
/// assert_eq!(QueryOrder::default(), QueryOrder::Key);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryOrder {
    /// By [`query_key`], a hash: the first `n` queries are a uniform sample of the split,
    /// whatever order the file's rows are in.
    #[default]
    Key,
    /// By first appearance in the input. A file sorted by something that drifts (the Home
    /// Depot file is sorted by product id, and its later products are rated lower) makes the
    /// first queries a biased sample.
    File,
}

/// The rows of the queries at positions `skip .. skip + n` in `order`: a subset of a split
/// (training rows for one cycle, the validation rows that fit the cuts). Consecutive
/// windows are disjoint, and growing `n` only adds queries. The rows come out grouped by
/// query, the queries in order of first appearance ([`group_by_query`]), whatever the order
/// that chose them, so the whole split always comes out the same.
///
/// ```
/// use taosr1_cot::adapter::{take_queries, QueryOrder};
/// use taosr1_cot::{Example, GradeScale, Product};
/// let ex = |q: String| Example { id: String::new(), query: q, product: Product::default(),
///     rationale: String::new(), grade: GradeScale::default().worst(), score: None };
/// let rows: Vec<Example> = (0..20).map(|i| ex(format!("q{}", i % 10))).collect();
/// let first = take_queries(rows.clone(), 0, 3, QueryOrder::File);
/// let names: Vec<&str> = first.iter().map(|e| e.query.as_str()).collect();
/// assert_eq!(names, ["q0", "q0", "q1", "q1", "q2", "q2"]);
/// let sample = take_queries(rows.clone(), 0, 3, QueryOrder::Key);
/// let rest = take_queries(rows.clone(), 3, 100, QueryOrder::Key);
/// assert_eq!((sample.len(), rest.len()), (6, 14));
/// assert!(sample.iter().all(|a| rest.iter().all(|b| a.query != b.query)));
/// assert_eq!(take_queries(rows.clone(), 0, 100, QueryOrder::Key), take_queries(rows, 0, 100, QueryOrder::File));
/// ```
pub fn take_queries(
    examples: Vec<Example>,
    skip: usize,
    n: usize,
    order: QueryOrder,
) -> Vec<Example> {
    let groups = group_by_query(examples.iter().map(|e| e.query.as_str()));
    let mut ranked: Vec<usize> = (0..groups.len()).collect();
    if order == QueryOrder::Key {
        ranked.sort_by_cached_key(|&g| query_key(&examples[groups[g][0]].query));
    }
    let mut keep = vec![false; groups.len()];
    for &g in ranked.iter().skip(skip).take(n) {
        keep[g] = true;
    }
    let mut slots: Vec<Option<Example>> = examples.into_iter().map(Some).collect();
    groups
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .flat_map(|(rows, _)| rows.iter())
        .filter_map(|&i| slots[i].take())
        .collect()
}

/// Train, validation and test examples of [`split_by_query`].
///
/// ```
/// use std::collections::BTreeSet;
/// use taosr1_cot::adapter::split_by_query;
/// use taosr1_cot::{Example, GradeScale, Product};
/// let ex = |q: String| Example { id: String::new(), query: q, product: Product::default(),
///     rationale: String::new(), grade: GradeScale::default().worst(), score: None };
/// let data: Vec<Example> = (0..30).flat_map(|i| [ex(format!("q{i}")), ex(format!("q{i}"))]).collect();
/// let split = split_by_query(data, 0.6, 0.2)?;
/// let queries = |rows: &[Example]| rows.iter().map(|e| e.query.clone()).collect::<BTreeSet<_>>();
/// let (tr, va, te) = (queries(&split.train), queries(&split.validation), queries(&split.test));
/// assert_eq!((tr.len(), va.len(), te.len()), (18, 6, 6));
/// assert!(tr.is_disjoint(&va) && tr.is_disjoint(&te) && va.is_disjoint(&te));
/// # Ok::<(), taosr1_cot::CotError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySplit {
    /// Training examples.
    pub train: Vec<Example>,
    /// Validation examples.
    pub validation: Vec<Example>,
    /// Test examples.
    pub test: Vec<Example>,
}

/// The split key of a query: hex sha256 of `"0\t" + query` (UTF-8).
///
/// ```
/// let k = taosr1_cot::adapter::query_key("angle bracket");
/// assert_eq!(k.len(), 64);
/// ```
pub fn query_key(query: &str) -> String {
    let digest = Sha256::digest(format!("0\t{query}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Split by query so that no query is in two splits: queries sorted by [`query_key`], the
/// first `train_frac` of the queries to train, the next `val_frac` to validation, the rest to
/// test (query counts rounded down). Row order within a split follows the input.
///
/// ```
/// use taosr1_cot::adapter::split_by_query;
/// use taosr1_cot::{Example, GradeScale, Product};
/// let ex = |q: &str| Example { id: String::new(), query: q.into(), product: Product::default(),
///     rationale: String::new(), grade: GradeScale::default().worst(), score: None };
/// let data: Vec<Example> = (0..50).flat_map(|i| [ex(&format!("q{i}")), ex(&format!("q{i}"))]).collect();
/// let split = split_by_query(data, 0.8, 0.1)?;
/// assert_eq!((split.train.len(), split.validation.len(), split.test.len()), (80, 10, 10));
/// # Ok::<(), taosr1_cot::CotError>(())
/// ```
pub fn split_by_query(
    examples: Vec<Example>,
    train_frac: f64,
    val_frac: f64,
) -> Result<QuerySplit, CotError> {
    let ok = |f: f64| (0.0..=1.0).contains(&f);
    if !ok(train_frac) || !ok(val_frac) || train_frac + val_frac > 1.0 {
        return Err(CotError::InvalidSplit {
            train_frac,
            val_frac,
        });
    }
    let mut keys: Vec<(String, String)> = examples
        .iter()
        .map(|e| (query_key(&e.query), e.query.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    let n = keys.len();
    let n_train = (n as f64 * train_frac).floor() as usize;
    let n_val = (n as f64 * val_frac).floor() as usize;
    let which: BTreeMap<String, usize> = keys
        .into_iter()
        .enumerate()
        .map(|(i, (_, q))| {
            (
                q,
                if i < n_train {
                    0
                } else if i < n_train + n_val {
                    1
                } else {
                    2
                },
            )
        })
        .collect();
    let (mut train, mut val, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for e in examples {
        match which[&e.query] {
            0 => train.push(e),
            1 => val.push(e),
            _ => test.push(e),
        }
    }
    Ok(QuerySplit {
        train,
        validation: val,
        test,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale() -> GradeScale {
        GradeScale::default()
    }

    #[test]
    fn home_depot_buckets_match_the_issue() {
        let m = ColumnSpec::home_depot().labels;
        for (v, g) in [
            ("1.00", 0),
            ("1.25", 0),
            ("1.33", 0),
            ("1.50", 0),
            ("1.67", 1),
            ("2.00", 1),
            ("2.25", 1),
            ("2.33", 2),
            ("2.67", 2),
            ("2.75", 2),
            ("3.00", 3),
        ] {
            let (grade, score) = m.grade(v, &scale()).unwrap();
            assert_eq!(grade.index(), g, "{v}");
            // the number is kept for soft targets
            assert_eq!(score, Some(v.parse::<f64>().unwrap()));
        }
        // named grades carry no number
        assert_eq!(LabelMap::Names.grade("L2", &scale()).unwrap().1, None);
        assert!(m.grade("abc", &scale()).is_err());
        assert!(m.grade("NaN", &scale()).is_err());
    }

    #[test]
    fn bad_specs_and_rows_are_typed_errors() {
        let mut spec = ColumnSpec::home_depot();
        spec.labels = LabelMap::CutPoints(vec![2.0, 1.0, 3.0]);
        assert!(matches!(
            read_csv_str(
                "id,search_term,product_title,relevance\n",
                "f.csv",
                &spec,
                &scale(),
                false
            ),
            Err(CotError::Spec(_))
        ));
        let spec = ColumnSpec::home_depot();
        let err =
            read_csv_str("id,query,title,rel\n", "f.csv", &spec, &scale(), false).unwrap_err();
        assert!(err.to_string().contains("search_term"), "{err}");
        let text = "id,search_term,product_title,relevance\n1,a,b,3\n2,a,b,x\n";
        let err = read_csv_str(text, "f.csv", &spec, &scale(), true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.csv:3: column `relevance`: label `x` is not a number"
        );
        let lenient = read_csv_str(text, "f.csv", &spec, &scale(), false).unwrap();
        assert_eq!((lenient.examples.len(), lenient.rejected.len()), (1, 1));
    }

    #[test]
    fn split_keeps_each_query_in_one_split() {
        let ex = |q: String| Example {
            id: String::new(),
            query: q,
            product: Product::default(),
            rationale: String::new(),
            grade: scale().worst(),
            score: None,
        };
        let data: Vec<Example> = (0..200).map(|i| ex(format!("q{}", i % 37))).collect();
        let s = split_by_query(data, 0.8, 0.1).unwrap();
        let (a, b, c) = (s.train, s.validation, s.test);
        let qs = |v: &[Example]| {
            v.iter()
                .map(|e| e.query.clone())
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert!(
            qs(&a).is_disjoint(&qs(&b))
                && qs(&a).is_disjoint(&qs(&c))
                && qs(&b).is_disjoint(&qs(&c))
        );
        assert_eq!(a.len() + b.len() + c.len(), 200);
        assert!(split_by_query(vec![], 0.9, 0.2).is_err());
    }

    fn row(q: String, id: usize, grade: usize) -> Example {
        Example {
            id: id.to_string(),
            query: q,
            product: Product::default(),
            rationale: String::new(),
            grade: scale().grade(grade).unwrap(),
            score: None,
        }
    }

    proptest::proptest! {
        /// Windows of `take_queries` partition the queries, in either order; each query's rows
        /// stay together and in input order; growing `n` only adds rows.
        #[test]
        fn take_queries_windows_partition_the_split(
            queries in proptest::collection::vec(0usize..25, 0..80),
            width in 1usize..8,
            key in proptest::bool::ANY,
        ) {
            let order = if key { QueryOrder::Key } else { QueryOrder::File };
            let rows: Vec<Example> =
                queries.iter().enumerate().map(|(i, q)| row(format!("q{q}"), i, 0)).collect();
            let mut seen: Vec<String> = Vec::new();
            for start in (0..25).step_by(width) {
                let window = take_queries(rows.clone(), start, width, order);
                let groups = group_by_query(window.iter().map(|e| e.query.as_str()));
                proptest::prop_assert!(groups.len() <= width);
                for g in &groups {
                    // contiguous, in input order, and every row of that query
                    proptest::prop_assert_eq!(g.len(), g[g.len() - 1] - g[0] + 1);
                    let ids: Vec<usize> = g.iter().map(|&i| window[i].id.parse().unwrap()).collect();
                    proptest::prop_assert!(ids.windows(2).all(|w| w[0] < w[1]));
                    let q = &window[g[0]].query;
                    proptest::prop_assert_eq!(ids.len(), rows.iter().filter(|r| &r.query == q).count());
                }
                seen.extend(window.iter().map(|e| e.id.clone()));
                let grown = take_queries(rows.clone(), 0, start + width, order);
                proptest::prop_assert!(window.iter().all(|w| grown.contains(w)));
            }
            seen.sort();
            let mut all: Vec<String> = rows.iter().map(|e| e.id.clone()).collect();
            all.sort();
            proptest::prop_assert_eq!(seen, all);
        }
    }

    #[test]
    fn key_order_samples_a_file_sorted_by_grade_evenly() {
        // 40 queries: the first 20 in the file are all L4, the last 20 all L1 (a file sorted by
        // something that drifts). The first half in file order is all L4; by key it is mixed.
        let rows: Vec<Example> = (0..40)
            .flat_map(|q| {
                (0..3)
                    .map(move |r| row(format!("query {q}"), 3 * q + r, if q < 20 { 3 } else { 0 }))
            })
            .collect();
        let best = |v: &[Example]| {
            v.iter().filter(|e| e.grade.index() == 3).count() as f64 / v.len() as f64
        };
        assert_eq!(
            best(&take_queries(rows.clone(), 0, 20, QueryOrder::File)),
            1.0
        );
        let sample = best(&take_queries(rows.clone(), 0, 20, QueryOrder::Key));
        assert!(
            (0.25..=0.75).contains(&sample),
            "share of L4 in the key-order half: {sample}"
        );
        // the whole split is the same rows in the same order either way
        assert_eq!(
            take_queries(rows.clone(), 0, 40, QueryOrder::Key),
            take_queries(rows, 0, 40, QueryOrder::File)
        );
    }
}

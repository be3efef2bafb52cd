// Module dependency order (acyclic; each module uses only modules listed before it):
//
//   tags      (none)      response-format tags: THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE
//   error     (none)      CotError, ParseError
//   grade     <- error, tags
//   data      <- error, grade
//   template  <- data, error, grade, tags
//   synth     <- data, error, grade, template
//   adapter   <- data, error, grade
//   rules     <- error, template
//   teacher   <- data, error, grade, template, rules
//
// Keep it that way: a lower module must not `use crate::` anything from a module below it.

//! Chain-of-thought data layer of TaoSR1, a thinking LLM for e-commerce query–product relevance.
//!
//! * [`GradeScale`] / [`Grade`]: ordered relevance labels (`L1` worst … `L4` best by default).
//! * [`Product`], [`Item`], [`Example`] and JSONL I/O ([`read_examples`], [`write_examples`],
//!   [`load_examples`], …) with line-numbered, typed errors.
//! * [`Template`]: the prompt / `<think> … </think> <answer> L </answer>` response format shared
//!   by every crate (see `docs/CONTRACTS.md`), the token convention ([`normalize_text`]), strict and
//!   lenient parsing of generated text, and post-CoT answer-slot forcing.
//! * [`synth`]: a deterministic synthetic data set with rule-derived rationales.
//! * [`adapter`]: real relevance data (CSV/JSONL) in, with a split by query.
//! * [`rules`] and [`teacher`]: atomic rules retrieved by BM25, and teachers that write
//!   five-step rationales for data that has none ([`teacher::RuleTeacher`]).
//!
//! ```rust
//! use taosr1_cot::{synth, Template};
//!
//! let examples = synth::generate(&synth::SynthConfig { seed: 1, n_examples: 3 });
//! let t = Template::default();
//! let ex = &examples[0];
//! let prompt = t.prompt(&ex.item());
//! let response = t.response(&ex.rationale, ex.grade);
//! assert!(prompt.ends_with("relevance :"));
//! assert_eq!(t.parse_strict(&response).unwrap().grade, ex.grade);
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod adapter;
mod data;
mod error;
mod grade;
pub mod rules;
pub mod synth;
mod tags;
pub mod teacher;
mod template;

pub use data::{
    load_examples, load_items, read_examples, read_examples_lenient, read_items,
    read_items_lenient, write_examples, write_items, Example, Item, Product,
};
pub use error::{CotError, ParseError};
pub use grade::{Grade, GradeScale};
pub use tags::{ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN};
pub use template::{
    normalize_text, AnswerSlot, ParsedResponse, ResponseOrder, SlotStatus, Template, TextStyle,
};

//! Chat templates: the Jinja templates of Hugging Face tokenizer folders, rendered with
//! [minijinja] the way transformers' `apply_chat_template` renders them.
//!
//! transformers compiles a template in a sandboxed Jinja2 environment with `trim_blocks=True`,
//! `lstrip_blocks=True` and the loop-controls extension, replaces the `tojson` filter with
//! Python's `json.dumps` (no HTML escaping, `ensure_ascii=False`), and adds the globals
//! `raise_exception` and `strftime_now`. [`ChatTemplate`] sets up the same: minijinja with
//! those whitespace rules, `break`/`continue`, Python's string and dict methods
//! (`.strip()`, `.startswith()`, `.split()`, `.items()`... through `minijinja-contrib`'s
//! `pycompat`), a `tojson` that writes what `json.dumps` writes, `raise_exception`, and
//! `strftime_now` (UTC; transformers uses the local time).
//!
//! The context is the one transformers builds: the tokenizer's named special tokens
//! (`bos_token`, `eos_token`, `unk_token`, `pad_token`, `sep_token`, `cls_token`,
//! `mask_token`, those that are set), then the caller's extra keyword arguments (they win over
//! the special tokens, as in transformers), then `messages`, `tools` (the `tools` extra
//! argument, else none), `documents` (none) and `add_generation_prompt`.
//!
//! Known differences from Jinja2 that the supported templates do not reach: a Python `None`,
//! `True` or `False` *printed* as text renders as `none`, `true`, `false`; and serde_json keeps
//! object keys sorted (without its `preserve_order` feature), so a tool schema passed as an
//! extra argument is seen, and `tojson`-printed, with sorted keys.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Kwargs, ValueKind};
use minijinja::{AutoEscape, Environment, Error as JinjaError, ErrorKind, Value};
use serde::{Deserialize, Serialize};

use crate::ModelError;

/// One message of a conversation: `role` (`system`, `user`, `assistant`, `tool`...) and its
/// text.
///
/// ```
/// use taosr1_model::ChatMessage;
/// let m = ChatMessage::user("red shoes?");
/// assert_eq!((m.role.as_str(), m.content.as_str()), ("user", "red shoes?"));
/// assert_eq!(ChatMessage::new("tool", "42").role, "tool");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who speaks.
    pub role: String,
    /// What is said.
    pub content: String,
}

impl ChatMessage {
    /// A message with any role.
    ///
    /// ```
    /// assert_eq!(taosr1_model::ChatMessage::new("user", "hi").content, "hi");
    /// ```
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }

    /// A `system` message.
    ///
    /// ```
    /// assert_eq!(taosr1_model::ChatMessage::system("be brief").role, "system");
    /// ```
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }

    /// A `user` message.
    ///
    /// ```
    /// assert_eq!(taosr1_model::ChatMessage::user("hi").role, "user");
    /// ```
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    /// An `assistant` message.
    ///
    /// ```
    /// assert_eq!(taosr1_model::ChatMessage::assistant("L4").role, "assistant");
    /// ```
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// A compiled chat template, with the special-token strings of its tokenizer.
///
/// ```
/// use taosr1_model::{ChatMessage, ChatTemplate};
/// let t = ChatTemplate::new(
///     "{% for m in messages %}<|{{ m.role }}|>{{ m.content.strip() }}\n{% endfor %}\
///      {% if add_generation_prompt %}<|assistant|>{% endif %}",
///     "inline",
/// )
/// .unwrap();
/// let text = t
///     .render(&[ChatMessage::user("  red shoes  ")], true, &serde_json::Value::Null)
///     .unwrap();
/// assert_eq!(text, "<|user|>red shoes\n<|assistant|>");
/// ```
#[derive(Clone, Debug)]
pub struct ChatTemplate {
    source: String,
    origin: String,
    special_tokens: BTreeMap<String, String>,
    env: Environment<'static>,
}

/// Names transformers passes the template itself; an extra argument may not take them.
const RESERVED: [&str; 2] = ["messages", "add_generation_prompt"];

impl ChatTemplate {
    /// Compile `source`; `origin` names where it came from (a file, or a file and field) in
    /// errors. A syntax error is [`ModelError::ChatTemplateSyntax`].
    ///
    /// ```
    /// use taosr1_model::{ChatTemplate, ModelError};
    /// assert!(ChatTemplate::new("{{ messages[0].content }}", "t.jinja").is_ok());
    /// let err = ChatTemplate::new("{% if x %}unclosed", "t.jinja").unwrap_err();
    /// assert!(matches!(err, ModelError::ChatTemplateSyntax { ref path, .. } if path == "t.jinja"));
    /// ```
    pub fn new(source: impl Into<String>, origin: impl Into<String>) -> Result<Self, ModelError> {
        let source = source.into();
        let origin = origin.into();
        let mut env = environment(&origin)?;
        env.add_template_owned(origin.clone(), source.clone())
            .map_err(|e| ModelError::ChatTemplateSyntax {
                path: origin.clone(),
                line: e.line().unwrap_or(0),
                message: jinja_message(&e),
            })?;
        Ok(Self {
            source,
            origin,
            special_tokens: BTreeMap::new(),
            env,
        })
    }

    /// The same template with these special-token strings in its context (names such as
    /// `bos_token`; [`crate::TaoTokenizer::from_pretrained`] sets the tokenizer's own).
    ///
    /// ```
    /// use taosr1_model::{ChatMessage, ChatTemplate};
    /// let t = ChatTemplate::new("{{ bos_token }}{{ messages[0].content }}", "t")
    ///     .unwrap()
    ///     .with_special_tokens([("bos_token".to_string(), "<s>".to_string())]);
    /// let text = t.render(&[ChatMessage::user("hi")], false, &serde_json::Value::Null).unwrap();
    /// assert_eq!(text, "<s>hi");
    /// ```
    pub fn with_special_tokens<I>(mut self, tokens: I) -> Self
    where
        I: IntoIterator<Item = (String, String)>,
    {
        self.special_tokens = tokens.into_iter().collect();
        self
    }

    /// The template text.
    ///
    /// ```
    /// let t = taosr1_model::ChatTemplate::new("{{ 1 }}", "t").unwrap();
    /// assert_eq!(t.source(), "{{ 1 }}");
    /// ```
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Where the template came from (as given to [`ChatTemplate::new`]).
    ///
    /// ```
    /// let t = taosr1_model::ChatTemplate::new("{{ 1 }}", "dir/chat_template.jinja").unwrap();
    /// assert_eq!(t.origin(), "dir/chat_template.jinja");
    /// ```
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The special-token strings the template sees.
    ///
    /// ```
    /// let t = taosr1_model::ChatTemplate::new("", "t").unwrap();
    /// assert!(t.special_tokens().is_empty());
    /// ```
    pub fn special_tokens(&self) -> &BTreeMap<String, String> {
        &self.special_tokens
    }

    /// Render a conversation. `extra` is a JSON object of further template arguments
    /// (`enable_thinking`, `tools`, `date_string`...) or `null`. Errors:
    /// [`ModelError::Input`] for an empty conversation or an `extra` that is not an object or
    /// that sets `messages`/`add_generation_prompt`; [`ModelError::ChatTemplateRender`] when
    /// the template fails (its `raise_exception`, an undefined operation...).
    ///
    /// ```
    /// use taosr1_model::{ChatMessage, ChatTemplate};
    /// let t = ChatTemplate::new(
    ///     "{% if enable_thinking is defined and enable_thinking is false %}no-think:{% endif %}\
    ///      {{ messages | length }}",
    ///     "t",
    /// )
    /// .unwrap();
    /// let msgs = [ChatMessage::user("a"), ChatMessage::assistant("b")];
    /// let extra = serde_json::json!({ "enable_thinking": false });
    /// assert_eq!(t.render(&msgs, false, &extra).unwrap(), "no-think:2");
    /// assert_eq!(t.render(&msgs, false, &serde_json::Value::Null).unwrap(), "2");
    /// ```
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
        extra: &serde_json::Value,
    ) -> Result<String, ModelError> {
        let messages: Vec<serde_json::Value> = messages
            .iter()
            .map(|m| serde_json::json!({ "role": m.role, "content": m.content }))
            .collect();
        self.render_values(&messages, add_generation_prompt, extra)
    }

    /// Render messages given as JSON objects, for fields beyond `role` and `content`
    /// (`tool_calls`, `reasoning_content`...). As transformers does, keys whose value is
    /// `null` are dropped, and a message's reasoning given as `reasoning_content`, `thinking`
    /// or `reasoning` is also set as `reasoning_content` (and `thinking` when absent).
    ///
    /// ```
    /// use taosr1_model::ChatTemplate;
    /// let t = ChatTemplate::new(
    ///     "{% for m in messages %}{% if m.reasoning_content is defined %}[{{ m.reasoning_content }}]\
    ///      {% endif %}{{ m.content }}{% endfor %}",
    ///     "t",
    /// )
    /// .unwrap();
    /// let msgs = [serde_json::json!({"role": "assistant", "content": "L4", "thinking": "exact match"})];
    /// assert_eq!(t.render_values(&msgs, false, &serde_json::Value::Null).unwrap(), "[exact match]L4");
    /// ```
    pub fn render_values(
        &self,
        messages: &[serde_json::Value],
        add_generation_prompt: bool,
        extra: &serde_json::Value,
    ) -> Result<String, ModelError> {
        if messages.is_empty() {
            return Err(ModelError::Input(
                "cannot apply a chat template to an empty conversation".into(),
            ));
        }
        let messages = messages
            .iter()
            .enumerate()
            .map(|(i, m)| normalize_message(i, m))
            .collect::<Result<Vec<_>, _>>()?;
        let extra = match extra {
            serde_json::Value::Null => serde_json::Map::new(),
            serde_json::Value::Object(map) => map.clone(),
            other => {
                return Err(ModelError::Input(format!(
                    "chat template arguments must be a JSON object or null, not {other}"
                )))
            }
        };
        if let Some(key) = RESERVED.iter().find(|k| extra.contains_key(**k)) {
            return Err(ModelError::Input(format!(
                "`{key}` is set by the call itself, not through the extra template arguments"
            )));
        }
        let mut ctx: BTreeMap<String, Value> = BTreeMap::new();
        for (k, v) in &self.special_tokens {
            ctx.insert(k.clone(), Value::from(v.as_str()));
        }
        ctx.insert("tools".into(), Value::from(()));
        ctx.insert("documents".into(), Value::from(()));
        for (k, v) in &extra {
            ctx.insert(k.clone(), Value::from(minijinja::value::Serde(v)));
        }
        ctx.insert(
            "messages".into(),
            Value::from(minijinja::value::Serde(&messages)),
        );
        ctx.insert(
            "add_generation_prompt".into(),
            Value::from(add_generation_prompt),
        );
        let render_err = |e: JinjaError| ModelError::ChatTemplateRender {
            path: self.origin.clone(),
            message: jinja_message(&e),
        };
        let template = self.env.get_template(&self.origin).map_err(render_err)?;
        template.render(Value::from(ctx)).map_err(render_err)
    }
}

/// transformers' `_normalize_chat_messages` (drop `None` values) and
/// `_alias_reasoning_fields`.
fn normalize_message(
    index: usize,
    message: &serde_json::Value,
) -> Result<serde_json::Value, ModelError> {
    let serde_json::Value::Object(map) = message else {
        return Err(ModelError::Input(format!(
            "chat message {index} must be a JSON object, not {message}"
        )));
    };
    let mut out: serde_json::Map<String, serde_json::Value> = map
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let reasoning = ["reasoning_content", "thinking", "reasoning"]
        .iter()
        .find_map(|k| out.get(*k).cloned());
    if let Some(r) = reasoning {
        out.entry("thinking").or_insert_with(|| r.clone());
        out.insert("reasoning_content".into(), r);
    }
    Ok(serde_json::Value::Object(out))
}

fn jinja_message(e: &JinjaError) -> String {
    let mut msg = match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    };
    if let Some(line) = e.line() {
        msg.push_str(&format!(" (line {line})"));
    }
    msg
}

fn environment(origin: &str) -> Result<Environment<'static>, ModelError> {
    let mut env = Environment::new();
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
        .map_err(|e| ModelError::ChatTemplateSyntax {
            path: origin.to_string(),
            line: 0,
            message: jinja_message(&e),
        })?;
    env.set_syntax(syntax);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_filter("tojson", tojson);
    env.add_function("raise_exception", raise_exception);
    env.add_function("strftime_now", strftime_now);
    Ok(env)
}

fn raise_exception(message: String) -> Result<Value, JinjaError> {
    Err(JinjaError::new(ErrorKind::InvalidOperation, message))
}

fn strftime_now(format: String) -> Result<Value, JinjaError> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| JinjaError::new(ErrorKind::InvalidOperation, e.to_string()))?
        .as_secs();
    Ok(Value::from(strftime_utc(&format, secs as i64)))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31) (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Python's `datetime.strftime` for the common directives, in UTC. Unknown directives are
/// kept as written (as glibc does).
pub(crate) fn strftime_utc(format: &str, unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (secs / 3600, secs / 60 % 60, secs % 60);
    let weekday = (days + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    let is_leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let cumulative = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = cumulative[month as usize - 1] + day + u32::from(is_leap && month > 2);
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(d) = chars.next() else {
            out.push('%');
            break;
        };
        let month_name = MONTHS[month as usize - 1];
        let piece = match d {
            'd' => format!("{day:02}"),
            'e' => format!("{day:>2}"),
            'm' => format!("{month:02}"),
            'Y' => format!("{year}"),
            'y' => format!("{:02}", year.rem_euclid(100)),
            'b' | 'h' => month_name[..3].to_string(),
            'B' => month_name.to_string(),
            'a' => WEEKDAYS[weekday][..3].to_string(),
            'A' => WEEKDAYS[weekday].to_string(),
            'H' => format!("{hour:02}"),
            'I' => format!("{:02}", (hour + 11) % 12 + 1),
            'p' => (if hour < 12 { "AM" } else { "PM" }).to_string(),
            'M' => format!("{minute:02}"),
            'S' => format!("{second:02}"),
            'j' => format!("{yday:03}"),
            'F' => format!("{year}-{month:02}-{day:02}"),
            'T' => format!("{hour:02}:{minute:02}:{second:02}"),
            'z' => "+0000".to_string(),
            'Z' => "UTC".to_string(),
            '%' => "%".to_string(),
            other => format!("%{other}"),
        };
        out.push_str(&piece);
    }
    out
}

/// transformers' `tojson`: `json.dumps(x, ensure_ascii=False, indent=None, separators=None,
/// sort_keys=False)`, keyword arguments only.
fn tojson(value: &Value, kwargs: Kwargs) -> Result<Value, JinjaError> {
    let ensure_ascii: Option<bool> = kwargs.get("ensure_ascii")?;
    let indent: Option<Value> = kwargs.get("indent")?;
    let separators: Option<Vec<String>> = kwargs.get("separators")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    kwargs.assert_all_used()?;
    let indent = match indent {
        None => None,
        Some(v) if v.is_none() => None,
        Some(v) if v.kind() == ValueKind::String => Some(v.as_str().unwrap_or("").to_string()),
        Some(v) => {
            let n = i64::try_from(v.clone()).map_err(|_| {
                JinjaError::new(
                    ErrorKind::InvalidOperation,
                    format!("tojson: indent must be an integer or a string, not {v}"),
                )
            })?;
            if n > MAX_INDENT {
                return Err(JinjaError::new(
                    ErrorKind::InvalidOperation,
                    format!("tojson: indent {n} is more than {MAX_INDENT}"),
                ));
            }
            Some(" ".repeat(n.max(0) as usize))
        }
    };
    let (item_sep, key_sep) = match separators {
        Some(s) if s.len() == 2 => (s[0].clone(), s[1].clone()),
        Some(s) => {
            return Err(JinjaError::new(
                ErrorKind::InvalidOperation,
                format!("tojson: separators must be two strings, got {}", s.len()),
            ))
        }
        None if indent.is_some() => (",".to_string(), ": ".to_string()),
        None => (", ".to_string(), ": ".to_string()),
    };
    let mut dumper = PyJson {
        out: String::new(),
        ensure_ascii: ensure_ascii.unwrap_or(false),
        indent,
        item_sep,
        key_sep,
        sort_keys: sort_keys.unwrap_or(false),
    };
    dumper.value(value, 0)?;
    Ok(Value::from(dumper.out))
}

/// Largest `tojson` indent accepted (a bigger one is a template bug, not a layout).
const MAX_INDENT: i64 = 256;
/// Deepest nesting `tojson` writes (a self-containing namespace would never end).
const MAX_DEPTH: usize = 256;

/// A writer of Python's `json.dumps` output.
struct PyJson {
    out: String,
    ensure_ascii: bool,
    indent: Option<String>,
    item_sep: String,
    key_sep: String,
    sort_keys: bool,
}

impl PyJson {
    fn newline(&mut self, level: usize) {
        if let Some(indent) = &self.indent {
            self.out.push('\n');
            for _ in 0..level {
                self.out.push_str(indent);
            }
        }
    }

    fn value(&mut self, v: &Value, level: usize) -> Result<(), JinjaError> {
        if level > MAX_DEPTH {
            return Err(JinjaError::new(
                ErrorKind::InvalidOperation,
                format!("tojson: nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        match v.kind() {
            ValueKind::None => self.out.push_str("null"),
            ValueKind::Bool => self
                .out
                .push_str(if v.is_true() { "true" } else { "false" }),
            ValueKind::Number if v.is_integer() => self.out.push_str(&v.to_string()),
            ValueKind::Number => {
                let f = f64::try_from(v.clone())?;
                self.out.push_str(&py_float_repr(f));
            }
            ValueKind::String => self.string(v.as_str().unwrap_or("")),
            ValueKind::Seq | ValueKind::Iterable => {
                let items: Vec<Value> = v.try_iter()?.collect();
                self.sequence(&items, level)?;
            }
            ValueKind::Map => {
                let mut entries = Vec::new();
                for key in v.try_iter()? {
                    let item = v.get_item(&key)?;
                    entries.push((py_key(&key)?, item));
                }
                if self.sort_keys {
                    entries.sort_by(|a, b| a.0.cmp(&b.0));
                }
                self.mapping(&entries, level)?;
            }
            other => {
                return Err(JinjaError::new(
                    ErrorKind::InvalidOperation,
                    format!("tojson: a value of kind {other} is not JSON serializable"),
                ))
            }
        }
        Ok(())
    }

    fn sequence(&mut self, items: &[Value], level: usize) -> Result<(), JinjaError> {
        if items.is_empty() {
            self.out.push_str("[]");
            return Ok(());
        }
        self.out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                let sep = self.item_sep.clone();
                self.out.push_str(&sep);
            }
            self.newline(level + 1);
            self.value(item, level + 1)?;
        }
        self.newline(level);
        self.out.push(']');
        Ok(())
    }

    fn mapping(&mut self, entries: &[(String, Value)], level: usize) -> Result<(), JinjaError> {
        if entries.is_empty() {
            self.out.push_str("{}");
            return Ok(());
        }
        self.out.push('{');
        for (i, (key, item)) in entries.iter().enumerate() {
            if i > 0 {
                let sep = self.item_sep.clone();
                self.out.push_str(&sep);
            }
            self.newline(level + 1);
            self.string(key);
            let sep = self.key_sep.clone();
            self.out.push_str(&sep);
            self.value(item, level + 1)?;
        }
        self.newline(level);
        self.out.push('}');
        Ok(())
    }

    fn string(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                '\t' => self.out.push_str("\\t"),
                '\u{8}' => self.out.push_str("\\b"),
                '\u{c}' => self.out.push_str("\\f"),
                c if (c as u32) < 0x20 => self.out.push_str(&format!("\\u{:04x}", c as u32)),
                c if self.ensure_ascii && !(' '..='~').contains(&c) => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        self.out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }
}

/// How `json.dumps` writes a dict key that is not a string.
fn py_key(key: &Value) -> Result<String, JinjaError> {
    Ok(match key.kind() {
        ValueKind::String => key.as_str().unwrap_or("").to_string(),
        ValueKind::None => "null".into(),
        ValueKind::Bool => (if key.is_true() { "true" } else { "false" }).into(),
        ValueKind::Number if key.is_integer() => key.to_string(),
        ValueKind::Number => py_float_repr(f64::try_from(key.clone())?),
        other => {
            return Err(JinjaError::new(
                ErrorKind::InvalidOperation,
                format!("tojson: keys must be str, int, float, bool or None, not {other}"),
            ))
        }
    })
}

/// Python's `float.__repr__` (what `json.dumps` writes for a float).
pub(crate) fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return (if f > 0.0 { "Infinity" } else { "-Infinity" }).into();
    }
    if f == 0.0 {
        return (if f.is_sign_negative() { "-0.0" } else { "0.0" }).into();
    }
    // shortest round-trip digits and the decimal exponent, from Rust's `{:e}`
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let text = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{text}")
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        // values and their Python 3 repr()
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345.6, "123456789012345.6"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1.25e-7, "1.25e-07"),
            (100.0, "100.0"),
            (0.0, "0.0"),
            (f64::NAN, "NaN"),
        ];
        for (f, want) in cases {
            assert_eq!(py_float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn strftime_matches_python() {
        // 2024-07-26 13:05:09 UTC, a Friday: datetime(2024,7,26,13,5,9).strftime(...)
        let t = 1_722_000_000 - 1_722_000_000 % 86_400 + 13 * 3600 + 5 * 60 + 9;
        assert_eq!(strftime_utc("%d %b %Y", t), "26 Jul 2024");
        assert_eq!(
            strftime_utc("%A %B %j %H:%M:%S %I%p %y %m %% %q", t),
            "Friday July 208 13:05:09 01PM 24 07 % %q"
        );
        assert_eq!(strftime_utc("%a %F %T", 0), "Thu 1970-01-01 00:00:00");
        // a leap day
        assert_eq!(strftime_utc("%Y-%m-%d %j", 951_782_400), "2000-02-29 060");
    }

    #[test]
    fn tojson_matches_json_dumps() {
        let t = ChatTemplate::new(
            "{{ x | tojson }}|{{ x | tojson(indent=2) }}|{{ s | tojson(ensure_ascii=true) }}|\
             {{ x | tojson(sort_keys=true, separators=[',', ':']) }}|{{ [] | tojson }}{{ {} | tojson(indent=2) }}",
            "t",
        )
        .unwrap();
        let extra = serde_json::json!({
            "x": {"b": [1, 2.5, null, true], "a": "<é\"\n>"},
            "s": "é😀\u{7f}"
        });
        let out = t.render(&[ChatMessage::user("u")], false, &extra).unwrap();
        // json.dumps({"a": "<é\"\n>", "b": [1, 2.5, None, True]}) etc. (serde_json sorted the keys)
        let want = concat!(
            r#"{"a": "<é\"\n>", "b": [1, 2.5, null, true]}"#,
            "|{\n  \"a\": \"<é\\\"\\n>\",\n  \"b\": [\n    1,\n    2.5,\n    null,\n    true\n  ]\n}",
            r#"|"\u00e9\ud83d\ude00\u007f""#,
            r#"|{"a":"<é\"\n>","b":[1,2.5,null,true]}"#,
            "|[]{}"
        );
        assert_eq!(out, want);
    }

    #[test]
    fn tojson_refuses_absurd_indents_and_bad_arguments() {
        for src in [
            "{{ 1 | tojson(indent=100000000000) }}",
            "{{ 1 | tojson(colour=1) }}",
            "{{ 1 | tojson(separators=[',']) }}",
        ] {
            let t = ChatTemplate::new(src, "t").unwrap();
            let err = t.render(&[ChatMessage::user("u")], false, &serde_json::Value::Null);
            assert!(
                matches!(err, Err(ModelError::ChatTemplateRender { .. })),
                "{src}: {err:?}"
            );
        }
    }

    #[test]
    fn raise_exception_is_a_render_error() {
        let t =
            ChatTemplate::new("{{ raise_exception('no system role here') }}", "x.jinja").unwrap();
        let err = t
            .render(&[ChatMessage::user("u")], false, &serde_json::Value::Null)
            .unwrap_err();
        match err {
            ModelError::ChatTemplateRender { path, message } => {
                assert_eq!(path, "x.jinja");
                assert!(message.contains("no system role here"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}

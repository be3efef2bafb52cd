//! From TaoSR1 text to token ids and training batches.
use burn::tensor::{Device, Int, Tensor};
use taosr1_cot::{
    Example, Grade, Item, ResponseOrder, Template, ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE,
    THINK_OPEN,
};
use taosr1_model::TaoTokenizer;

use crate::Error;

/// One example as token ids.
#[derive(Clone, Debug, PartialEq)]
pub struct Encoded {
    /// `<bos>` + prompt.
    pub prompt: Vec<u32>,
    /// Response in the template's order (`<answer> G </answer> <think> … </think>` or
    /// `<think> … </think> <answer> G </answer>`) + `<eos>`.
    pub response: Vec<u32>,
    /// Gold grade.
    pub grade: Grade,
    /// A soft target over the grades (worst first, summing to 1) for
    /// [`LossTokens::GradeDistribution`](crate::sft::LossTokens::GradeDistribution), such as
    /// [`rating_targets`](crate::sft::rating_targets)' or a teacher's grade probabilities;
    /// `None`: the gold grade's one-hot.
    pub target: Option<Vec<f32>>,
}

/// Tokenizer + template, with the ids of the tags and grade tokens resolved once.
#[derive(Clone, Debug)]
pub struct Codec {
    tokenizer: TaoTokenizer,
    template: Template,
    grade_ids: Vec<u32>,
    think_close: u32,
    answer_open: u32,
    answer_close: u32,
    chat: bool,
}

/// A right-padded batch of `prompt + response` sequences.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Token ids `[batch, len]`.
    pub input_ids: Tensor<2, Int>,
    /// `1.0` where the token belongs to the response, else `0.0` `[batch, len]`.
    pub response_mask: Tensor<2>,
}

impl Codec {
    /// A codec whose prompts are `<bos>` + the template's prompt text (the embedded tier's
    /// word-level tokenizer, or a base model without a chat template). Every tag and grade
    /// label must encode to a single token of `tokenizer`.
    ///
    /// # Errors
    /// [`Error::Model`] naming the first tag or label that is not one token.
    ///
    /// ```
    /// let codec = taosr1::assets::load_codec().unwrap();
    /// let again = taosr1::codec::Codec::new(codec.tokenizer().clone(), codec.template().clone()).unwrap();
    /// assert_eq!(again.grade_ids(), codec.grade_ids());
    /// // a tokenizer without the tags (they would encode to `<unk>`) is refused
    /// let bare = taosr1_model::TaoTokenizer::build_word_level(["L1 L2 L3 L4"], &[]).unwrap();
    /// let err = taosr1::codec::Codec::new(bare, codec.template().clone()).unwrap_err();
    /// assert!(err.to_string().contains("<think>"), "{err}");
    /// ```
    pub fn new(tokenizer: TaoTokenizer, template: Template) -> Result<Self, Error> {
        Self::build(tokenizer, template, false)
    }

    /// A codec for a real checkpoint with a chat template: the prompt is the template's prompt
    /// as one user message rendered by the tokenizer's chat template with the generation
    /// prompt (`<|im_start|>assistant\n`), so the response is the assistant's turn; it ends
    /// with the tokenizer's eos (`<|im_end|>`). Tags and labels must be single tokens:
    /// [`crate::real::adapt`] adds those that are not.
    ///
    /// # Errors
    /// [`Error::Input`] when the tokenizer has no chat template; [`Error::Model`] naming a tag
    /// or label that is not one token.
    ///
    /// ```
    /// use taosr1_cot::{Template, TextStyle};
    /// use taosr1_model::TaoTokenizer;
    /// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/taosr1-model/tests/fixtures/tokenizers/smollm2");
    /// let mut tok = TaoTokenizer::from_pretrained(&dir).unwrap();
    /// let template = Template::default().with_style(TextStyle::Verbatim);
    /// assert!(taosr1::codec::Codec::chat(tok.clone(), template.clone()).is_err()); // `<answer>` is several tokens
    /// tok.add_tokens(&taosr1::real::template_tokens(&template)).unwrap();
    /// let codec = taosr1::codec::Codec::chat(tok, template).unwrap();
    /// let item = taosr1_cot::Item { query: "drill".into(), ..Default::default() };
    /// let ids = codec.label_slot_ids(&item).unwrap();
    /// assert_eq!(ids[0], codec.tokenizer().token_to_id("<|im_start|>").unwrap());
    /// assert_eq!(*ids.last().unwrap(), codec.answer_open_id());
    /// // (decode drops SmolLM2's bos `<|im_start|>` and eos `<|im_end|>`)
    /// let text = codec.decode(&ids).unwrap();
    /// assert!(text.contains("user\nGrade how relevant"));
    /// assert!(text.ends_with("Query: drill\nassistant\n<answer>"));
    /// ```
    pub fn chat(tokenizer: TaoTokenizer, template: Template) -> Result<Self, Error> {
        if tokenizer.chat_template().is_none() {
            return Err(Error::Input(
                "Codec::chat: the tokenizer has no chat template".into(),
            ));
        }
        Self::build(tokenizer, template, true)
    }

    fn build(tokenizer: TaoTokenizer, template: Template, chat: bool) -> Result<Self, Error> {
        let one = |text: &str| {
            tokenizer.single_token(text).ok_or_else(|| {
                Error::Model(taosr1_model::ModelError::Tokenizer(format!(
                    "`{text}` is not a single token of the tokenizer (taosr1::real::adapt adds \
                     it)"
                )))
            })
        };
        let grade_ids = template
            .scale()
            .labels()
            .iter()
            .map(|l| one(l))
            .collect::<Result<Vec<_>, _>>()?;
        one(THINK_OPEN)?;
        Ok(Self {
            think_close: one(THINK_CLOSE)?,
            answer_open: one(ANSWER_OPEN)?,
            answer_close: one(ANSWER_CLOSE)?,
            grade_ids,
            tokenizer,
            template,
            chat,
        })
    }

    /// Whether prompts go through the tokenizer's chat template ([`Codec::chat`]).
    ///
    /// ```
    /// assert!(!taosr1::assets::load_codec().unwrap().is_chat());
    /// ```
    pub fn is_chat(&self) -> bool {
        self.chat
    }

    /// Build the word-level tokenizer of a corpus of examples: every word of their prompts and
    /// responses, plus the tags and grade labels as fixed low ids.
    pub fn build_tokenizer(
        examples: &[Example],
        template: &Template,
    ) -> Result<TaoTokenizer, Error> {
        let texts: Vec<String> = examples
            .iter()
            .flat_map(|e| {
                [
                    template.prompt(&e.item()),
                    template.response(&e.rationale, e.grade),
                ]
            })
            .collect();
        let mut extra = vec![THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE];
        extra.extend(template.scale().labels().iter().map(String::as_str));
        Ok(TaoTokenizer::build_word_level(
            texts.iter().map(String::as_str),
            &extra,
        )?)
    }

    /// The same codec with responses in `order` (label-first or think-first).
    ///
    /// ```
    /// use taosr1_cot::ResponseOrder;
    /// let codec = taosr1::assets::load_codec().unwrap();
    /// assert_eq!(codec.template().order(), ResponseOrder::LabelFirst);
    /// let tf = codec.with_order(ResponseOrder::ThinkFirst);
    /// assert_eq!(tf.template().order(), ResponseOrder::ThinkFirst);
    /// ```
    pub fn with_order(mut self, order: ResponseOrder) -> Self {
        self.template = self.template.with_order(order);
        self
    }

    /// `prompt_ids(item)` followed by `<answer>`: a label-first model's next token is the
    /// grade, so one prefill of this sequence scores the item.
    ///
    /// ```
    /// let codec = taosr1::assets::load_codec().unwrap();
    /// let item = taosr1::assets::load_split(taosr1::assets::Split::Test).unwrap()[0].item();
    /// let ids = codec.label_slot_ids(&item).unwrap();
    /// assert_eq!(ids.last(), Some(&codec.answer_open_id()));
    /// assert_eq!(ids.len(), codec.prompt_ids(&item).unwrap().len() + 1);
    /// ```
    pub fn label_slot_ids(&self, item: &Item) -> Result<Vec<u32>, Error> {
        let mut ids = self.prompt_ids(item)?;
        ids.push(self.answer_open);
        Ok(ids)
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &TaoTokenizer {
        &self.tokenizer
    }

    /// The template.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// Token id of each grade label, worst first.
    pub fn grade_ids(&self) -> &[u32] {
        &self.grade_ids
    }

    /// Id of `</think>`.
    pub fn think_close_id(&self) -> u32 {
        self.think_close
    }

    /// Id of `<answer>`.
    pub fn answer_open_id(&self) -> u32 {
        self.answer_open
    }

    /// Id of `</answer>`.
    pub fn answer_close_id(&self) -> u32 {
        self.answer_close
    }

    /// Share of `prompt_ids` that the tokenizer did not know (mapped to `<unk>`), in
    /// `[0, 1]`. The word-level tokenizer of the tiny default knows only the synthetic
    /// vocabulary: real product text scores high here, and a prediction from such a prompt is
    /// not to be trusted (`serve` flags it; [`crate::infer::predict`] reports it per item).
    ///
    /// ```
    /// let codec = taosr1::assets::load_codec().unwrap();
    /// let item = taosr1::assets::load_split(taosr1::assets::Split::Test).unwrap()[0].item();
    /// assert_eq!(codec.unknown_share(&codec.prompt_ids(&item).unwrap()), 0.0);
    /// let mut odd = item.clone();
    /// odd.query = "Gartenschlauch Ärger".into();
    /// assert!(codec.unknown_share(&codec.prompt_ids(&odd).unwrap()) > 0.0);
    /// ```
    ///
    /// A tokenizer without an unknown token (byte-level BPE: every byte is a token) knows all
    /// text: the share is then 0.
    pub fn unknown_share(&self, prompt_ids: &[u32]) -> f32 {
        let Some(unk) = self.tokenizer().unk_id() else {
            return 0.0;
        };
        let n = prompt_ids.iter().filter(|&&id| id == unk).count();
        n as f32 / prompt_ids.len().max(1) as f32
    }

    /// `<bos>` + the prompt of `item` (no bos for a tokenizer that has none); for a
    /// [`Codec::chat`] codec, the prompt as a user message through the chat template, up to
    /// the start of the assistant's turn.
    pub fn prompt_ids(&self, item: &Item) -> Result<Vec<u32>, Error> {
        let text = self.template.prompt(item);
        if self.chat {
            let msgs = [taosr1_model::ChatMessage::user(text)];
            return Ok(self
                .tokenizer
                .apply_chat_template(&msgs, true, &serde_json::json!({}))?);
        }
        let mut ids: Vec<u32> = self.tokenizer.bos_id().into_iter().collect();
        ids.extend(self.tokenizer.encode(&text)?);
        Ok(ids)
    }

    /// Token ids of arbitrary response text (no `<eos>`).
    pub fn text_ids(&self, text: &str) -> Result<Vec<u32>, Error> {
        Ok(self.tokenizer.encode(text)?)
    }

    /// Text of response token ids.
    pub fn decode(&self, ids: &[u32]) -> Result<String, Error> {
        Ok(self.tokenizer.decode(ids)?)
    }

    /// The gold response of `rationale`/`grade` + `<eos>`.
    pub fn response_ids(&self, rationale: &str, grade: Grade) -> Result<Vec<u32>, Error> {
        let mut ids = self
            .tokenizer
            .encode(&self.template.response(rationale, grade))?;
        ids.push(self.tokenizer.eos_id());
        Ok(ids)
    }

    /// Encode a labelled example.
    pub fn encode(&self, example: &Example) -> Result<Encoded, Error> {
        Ok(Encoded {
            prompt: self.prompt_ids(&example.item())?,
            response: self.response_ids(&example.rationale, example.grade)?,
            grade: example.grade,
            target: None,
        })
    }

    /// Encode many examples.
    pub fn encode_all(&self, examples: &[Example]) -> Result<Vec<Encoded>, Error> {
        examples.iter().map(|e| self.encode(e)).collect()
    }

    /// Right-pad `(prompt, response)` pairs into a [`Batch`].
    pub fn collate(&self, pairs: &[(&[u32], &[u32])], device: &Device) -> Result<Batch, Error> {
        collate(pairs, self.tokenizer.pad_id(), device)
    }
}

/// Right-pad `(prompt, response)` pairs; the mask marks response tokens. Right padding needs no
/// attention mask with a causal model, and the mask keeps padding out of every loss.
pub fn collate(pairs: &[(&[u32], &[u32])], pad_id: u32, device: &Device) -> Result<Batch, Error> {
    let batch = taosr1_grpo::TokenBatch::from_pairs(pairs, pad_id, device)?;
    Ok(Batch {
        input_ids: batch.input_ids,
        response_mask: batch.mask,
    })
}

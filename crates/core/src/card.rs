//! Bank-card payments the payer confirms with a code sent by SMS (快捷支付), and cards bound
//! to a merchant's user so that later payments need no card details.
//!
//! Card and identity numbers are personal data: they are parsed at the edge
//! ([`CardNo`], [`IdCardNo`]), handed to the channel for the payment, and never stored or
//! logged. What is kept is a masked card number, the channel's token for the card and the
//! phone the bank checked with it ([`CardBinding`]): a bound card's code goes to that phone,
//! as a bank sends it to the number it has on file, never to one the merchant names. The
//! payer's phone is kept with the code sent to it ([`SmsChallenge`]), because a code is sent
//! again on request; phones are logged masked only.

use std::fmt;

use async_trait::async_trait;

use crate::channel::{ChannelOutcome, PayAction};
use crate::ids::{MerchantId, PlatformId};
use crate::store::StoreError;
use crate::time::Millis;
use crate::url::NotifyUrl;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("须为12到19位数字")]
    CardLength,
    #[error("卡号校验位错误")]
    CardChecksum,
    #[error("须为18位身份证号码")]
    IdLength,
    #[error("身份证号码校验位错误")]
    IdChecksum,
    #[error("身份证号码中的出生日期无效")]
    IdBirthDate,
    #[error("须为11位手机号码")]
    Phone,
}

/// A bank card number whose Luhn check digit is right.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNo(String);

impl CardNo {
    pub fn parse(s: &str) -> Result<CardNo, CardError> {
        if !(12..=19).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardError::CardLength);
        }
        if !luhn(s) {
            return Err(CardError::CardChecksum);
        }
        Ok(CardNo(s.to_owned()))
    }

    /// The whole number, for the channel only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The first six and last four digits, the rest as `*`: what may be shown and kept.
    pub fn masked(&self) -> String {
        mask(&self.0, 6, 4)
    }

    /// The issuer's name, from the number's first digits.
    pub fn bank_name(&self) -> &'static str {
        bank_name(&self.0)
    }
}

impl fmt::Debug for CardNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNo({})", self.masked())
    }
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A mainland resident identity number (GB 11643-1999): 17 digits, a valid birth date and
/// the ISO 7064 MOD 11-2 check character (`X` for 10).
#[derive(Clone, PartialEq, Eq)]
pub struct IdCardNo(String);

impl IdCardNo {
    pub fn parse(s: &str) -> Result<IdCardNo, CardError> {
        let bytes = s.as_bytes();
        if bytes.len() != 18
            || !bytes[..17].iter().all(u8::is_ascii_digit)
            || !(bytes[17].is_ascii_digit() || bytes[17] == b'X' || bytes[17] == b'x')
        {
            return Err(CardError::IdLength);
        }
        const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        const CHECK: &[u8; 11] = b"10X98765432";
        let sum: u32 = bytes[..17]
            .iter()
            .zip(WEIGHTS)
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        if CHECK[(sum % 11) as usize] != bytes[17].to_ascii_uppercase() {
            return Err(CardError::IdChecksum);
        }
        if chrono::NaiveDate::parse_from_str(&s[6..14], "%Y%m%d").is_err() {
            return Err(CardError::IdBirthDate);
        }
        Ok(IdCardNo(s.to_ascii_uppercase()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdCardNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdCardNo({})", mask(&self.0, 3, 2))
    }
}

/// A mainland mobile number: 11 digits starting with 1.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: &str) -> Result<Phone, CardError> {
        let ok = s.len() == 11
            && s.starts_with('1')
            && matches!(s.as_bytes()[1], b'3'..=b'9')
            && s.bytes().all(|b| b.is_ascii_digit());
        if ok {
            Ok(Phone(s.to_owned()))
        } else {
            Err(CardError::Phone)
        }
    }

    pub fn from_stored(s: String) -> Phone {
        Phone(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `188****0890`: how a phone appears in logs.
    pub fn masked(&self) -> String {
        mask(&self.0, 3, 4)
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

/// Keeps `head` and `tail` characters and stars the rest.
pub fn mask(s: &str, head: usize, tail: usize) -> String {
    let n = s.chars().count();
    if n <= head + tail {
        return "*".repeat(n);
    }
    s.chars()
        .enumerate()
        .map(|(i, c)| if i < head || i >= n - tail { c } else { '*' })
        .collect()
}

/// Debit or credit: a credit card also needs its expiry and CVN2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardKind {
    Debit,
    Credit,
}

impl CardKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CardKind::Debit => "debit",
            CardKind::Credit => "credit",
        }
    }

    pub fn from_stored(s: &str) -> Option<CardKind> {
        match s {
            "debit" => Some(CardKind::Debit),
            "credit" => Some(CardKind::Credit),
            _ => None,
        }
    }
}

/// What the payer gave to pay by card. Travels to the channel and nowhere else.
#[derive(Clone)]
pub struct CardDetails {
    pub number: CardNo,
    pub kind: CardKind,
    pub holder: String,
    pub id_no: IdCardNo,
    pub phone: Phone,
    /// `MMYY`, credit cards only.
    pub expiry: Option<String>,
    /// Credit cards only.
    pub cvn2: Option<String>,
}

impl fmt::Debug for CardDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardDetails")
            .field("number", &self.number)
            .field("kind", &self.kind)
            .field("phone", &self.phone)
            .finish_non_exhaustive()
    }
}

/// How a card payment names the card.
#[derive(Debug, Clone, Copy)]
pub enum CardSource<'a> {
    /// The card's details, as the payer typed them.
    Card(&'a CardDetails),
    /// A card bound earlier: the channel's token for it, and where to send the code.
    Bound { token: &'a str, phone: &'a Phone },
}

/// The channel's answer to a card payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardStart {
    pub outcome: ChannelOutcome,
    pub action: PayAction,
    /// The channel sent the payer a code: its reference for that code, handed back when the
    /// payer confirms. `None`: no code was sent.
    pub code_ref: Option<String>,
    /// The channel's token for the card, with which it can be charged again without its
    /// details (for a binding).
    pub card_token: Option<String>,
}

/// The channel's answer to a confirmation code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// Not the code that was sent; the payment is still waiting.
    WrongCode,
    Outcome(ChannelOutcome),
}

/// The issuer of a card, by its BIN: the few prefixes the sandbox and the tests meet, else
/// UnionPay. Shown to merchants (快捷 BANK_NAME); nothing depends on it.
pub fn bank_name(card_no: &str) -> &'static str {
    const BINS: &[(&str, &str)] = &[
        ("622848", "农业银行"),
        ("622845", "农业银行"),
        ("622588", "招商银行"),
        ("621485", "招商银行"),
        ("622700", "建设银行"),
        ("621700", "建设银行"),
        ("622202", "工商银行"),
        ("621226", "工商银行"),
        ("621661", "中国银行"),
        ("621790", "中国银行"),
        ("622262", "交通银行"),
        ("622260", "交通银行"),
        ("622908", "兴业银行"),
        ("622622", "民生银行"),
        ("622155", "平安银行"),
        ("621799", "邮储银行"),
        ("625600", "光大银行"),
    ];
    BINS.iter()
        .find(|(bin, _)| card_no.starts_with(bin))
        .map(|(_, name)| *name)
        .unwrap_or("银联")
}

/// A card bound to a merchant's user (快捷 BIND_ID). Effective once the payment it was
/// made with is paid (`active_at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardBinding {
    /// The BIND_ID.
    pub id: PlatformId,
    pub merchant_id: MerchantId,
    /// The merchant's own id for the card holder.
    pub user_id: String,
    pub card_masked: String,
    pub card_kind: CardKind,
    pub bank_name: String,
    pub channel: String,
    pub channel_token: String,
    /// The payment that bound it.
    pub origin_order_id: PlatformId,
    pub created_at: Millis,
    pub active_at: Option<Millis>,
    /// The phone the bank checked with the card when it was bound, where the codes of later
    /// payments go. `None` for bindings made before it was kept: those cannot pay by code
    /// until the card is bound again.
    pub phone: Option<Phone>,
}

/// The code sent to a payer for an attempt: where, the channel's reference, when, how
/// many codes were sent, and how many times a code was checked since the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsChallenge {
    pub order_id: PlatformId,
    pub seq: i32,
    pub phone: Phone,
    pub code_ref: String,
    pub sent_at: Millis,
    pub sends: i32,
    /// Codes checked against the one sent, right or wrong: each check is counted before the
    /// channel is asked, so that guesses sent at once cannot share one try.
    pub checks: i32,
}

/// The store's side of card payments.
#[async_trait]
pub trait CardStore: Send + Sync {
    /// Records a binding, or returns the one the merchant's user already has for the same
    /// card at the same channel; a binding not yet effective moves to the newer payment.
    async fn bind_card(&self, binding: &CardBinding) -> Result<CardBinding, StoreError>;
    async fn card_binding(
        &self,
        merchant: &MerchantId,
        id: &PlatformId,
    ) -> Result<Option<CardBinding>, StoreError>;
    /// The merchant's binding made by this payment, if there is one.
    async fn binding_by_origin(
        &self,
        merchant: &MerchantId,
        origin_order_id: &PlatformId,
    ) -> Result<Option<CardBinding>, StoreError>;
    /// Makes the bindings made by this payment effective.
    async fn activate_card_bindings(
        &self,
        origin_order_id: &PlatformId,
        at: Millis,
    ) -> Result<(), StoreError>;

    async fn insert_sms_challenge(&self, challenge: &SmsChallenge) -> Result<(), StoreError>;
    async fn sms_challenge(
        &self,
        order_id: &PlatformId,
        seq: i32,
    ) -> Result<Option<SmsChallenge>, StoreError>;
    /// Takes the right to send the code again: moves `sent_at` to `now` and counts the
    /// send, only if the last one was sent at or before `last_sent_before` and fewer than
    /// `max_sends` codes were sent. The old code keeps its checks until
    /// [`CardStore::set_sms_code_ref`] replaces it.
    async fn claim_sms_resend(
        &self,
        order_id: &PlatformId,
        seq: i32,
        now: Millis,
        last_sent_before: Millis,
        max_sends: i32,
    ) -> Result<bool, StoreError>;
    /// Replaces the code (its reference) with one just sent, which has had no checks yet.
    async fn set_sms_code_ref(
        &self,
        order_id: &PlatformId,
        seq: i32,
        code_ref: &str,
    ) -> Result<(), StoreError>;
    /// Reserves one check of the code `code_ref` stands for, before the channel is asked:
    /// `false` once `max` checks were made, or when another code was sent meanwhile.
    async fn reserve_code_check(
        &self,
        order_id: &PlatformId,
        seq: i32,
        code_ref: &str,
        max: i32,
    ) -> Result<bool, StoreError>;
    /// Where to notify about an order still being paid (the payer's confirmation names it).
    async fn set_order_notify_url(
        &self,
        order_id: &PlatformId,
        url: &NotifyUrl,
    ) -> Result<bool, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_pass_the_luhn_check() {
        assert!(CardNo::parse("4111111111111111").is_ok());
        assert_eq!(
            CardNo::parse("4111111111111112"),
            Err(CardError::CardChecksum)
        );
        assert_eq!(CardNo::parse("41111"), Err(CardError::CardLength));
        assert_eq!(
            CardNo::parse("41111111111a1111"),
            Err(CardError::CardLength)
        );
        let card = CardNo::parse("6228480402564890018").unwrap();
        assert_eq!(card.masked(), "622848*********0018");
        assert_eq!(card.bank_name(), "农业银行");
        assert!(!format!("{card:?}").contains("0402564890"));
    }

    #[test]
    fn identity_numbers_carry_their_check_character_and_a_real_birth_date() {
        assert!(IdCardNo::parse("11010519491231002X").is_ok());
        assert!(IdCardNo::parse("11010519491231002x").is_ok());
        assert_eq!(
            IdCardNo::parse("110105194912310021"),
            Err(CardError::IdChecksum)
        );
        assert_eq!(
            IdCardNo::parse("1101051949123100"),
            Err(CardError::IdLength)
        );
        // A check character that fits but a 13th month.
        let mut bad = String::from("11010519491331");
        let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        bad.push_str("002");
        let sum: u32 = bad
            .bytes()
            .zip(weights)
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        bad.push(char::from(b"10X98765432"[(sum % 11) as usize]));
        assert_eq!(IdCardNo::parse(&bad), Err(CardError::IdBirthDate));
        assert!(!format!("{:?}", IdCardNo::parse("11010519491231002X").unwrap()).contains("1949"));
    }

    #[test]
    fn phones_are_mainland_mobile_numbers_and_log_masked() {
        let phone = Phone::parse("18826570890").unwrap();
        assert_eq!(phone.masked(), "188****0890");
        assert_eq!(Phone::parse("12826570890"), Err(CardError::Phone));
        assert_eq!(Phone::parse("1882657089"), Err(CardError::Phone));
        assert_eq!(Phone::parse("1882657089a"), Err(CardError::Phone));
    }
}

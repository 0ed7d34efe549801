//! chinaums wire ⇄ core. The only file that knows both.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use paymux_core::Fen;
use paymux_core::code::{CodeKind, PaymentCode};
use paymux_core::gateway::{NewBill, NewCode};
use paymux_core::ids::{MerchantOrderNo, RefundNo};
use paymux_core::order::{Attempt, AttemptStatus, EscrowStatus, Order, OrderStatus, Share, Splits};
use paymux_core::payway::{Funding, PayMethod, PayWay, Wallet};
use paymux_core::refund::{Refund, RefundStatus};
use paymux_core::time::{self, Millis};
use paymux_core::url::{NotifyUrl, ReturnUrl, UrlError};
use serde_json::{Map, Value, json};

use super::error::ChinaumsError;
use super::merchants::ChinaumsMerchant;
use super::wire::{BILL_BIZ_TYPE, BillPayment, INST_MID, QrCodeRequest, Reply};
use crate::common::fields;

const DATE_TIME: &str = "%Y-%m-%d %H:%M:%S";

/// The largest amount the spec allows (`1…100000000` fen).
pub const MAX_AMOUNT: i64 = 100_000_000;

/// goods and subOrders: at most this many elements (§1.1 备注).
pub const MAX_ELEMENTS: usize = 20;

/// A one-time code's bill expires this long after it was made unless the merchant says.
pub const ONE_TIME_TTL_S: i64 = 30 * 60;

/// `cardAttr` of a paid try: where its money came from, as the channel said (§1.4's
/// DEBIT_CARD and CREDIT_CARD, and the wallet's balance as §1.7's example says, BALANCE);
/// none when the channel did not say.
pub fn card_attr(paid: &Attempt) -> Option<&'static str> {
    paid.funding.map(|f| match f {
        Funding::Balance => "BALANCE",
        Funding::DebitCard => "DEBIT_CARD",
        Funding::CreditCard => "CREDIT_CARD",
    })
}

/// §1.1 `limitCreditCard=true`: the bill is not paid by credit card.
pub fn limits_credit_cards(order: &Order) -> bool {
    order.extra.get("limitCreditCard") == Some(&Value::Bool(true))
}

/// Bill fields that a new bill on a code replaces (left out of an update: removed).
const BILL_KEYS: [&str; 13] = [
    "billDate",
    "billDesc",
    "goods",
    "walletOption",
    "fixBuyer",
    "name",
    "mobile",
    "certType",
    "certNo",
    "divisionFlag",
    "platformAmount",
    "subOrders",
    "split",
];

type Result<T, E = ChinaumsError> = std::result::Result<T, E>;

/// A field of at most `max` characters, if sent.
pub fn optional(value: &Option<String>, field: &'static str, max: usize) -> Result<Option<String>> {
    Ok(fields::optional(value, field, max)?)
}

pub fn required<'a>(value: &'a Option<String>, field: &'static str, max: usize) -> Result<&'a str> {
    Ok(fields::required(value, field, max)?)
}

/// An amount in fen, sent as a number or a numeric string: an integer in `min..=10^8`.
pub fn amount(value: &Option<String>, field: &'static str, min: i64) -> Result<Option<Fen>> {
    let Some(text) = optional(value, field, 20)? else {
        return Ok(None);
    };
    let fen: i64 = text
        .parse()
        .map_err(|_| ChinaumsError::field(field, "须为以分为单位的整数"))?;
    if fen < min || fen > MAX_AMOUNT {
        return Err(ChinaumsError::field(
            field,
            format!("须在{min}到{MAX_AMOUNT}分之间"),
        ));
    }
    Fen::new(fen)
        .map(Some)
        .map_err(|e| ChinaumsError::field(field, format!(":{e}")))
}

/// `true` or `false` (a JSON boolean or its text).
pub fn flag(value: &Option<String>, field: &'static str) -> Result<Option<bool>> {
    match optional(value, field, 5)?.as_deref() {
        None => Ok(None),
        Some(t) if t.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(t) if t.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(ChinaumsError::field(field, "须为true或false")),
    }
}

/// `yyyy-MM-dd`.
pub fn date(value: &Option<String>, field: &'static str) -> Result<Option<String>> {
    let Some(text) = optional(value, field, 10)? else {
        return Ok(None);
    };
    time::parse_beijing(&format!("{text} 00:00:00"), DATE_TIME)
        .filter(|_| text.len() == 10)
        .ok_or_else(|| ChinaumsError::field(field, "格式应为yyyy-MM-dd"))?;
    Ok(Some(text))
}

/// `yyyy-MM-dd HH:mm:ss`, Beijing time.
pub fn datetime(value: &Option<String>, field: &'static str) -> Result<Option<Millis>> {
    let Some(text) = optional(value, field, 19)? else {
        return Ok(None);
    };
    time::parse_beijing(&text, DATE_TIME)
        .map(Some)
        .ok_or_else(|| ChinaumsError::field(field, "格式应为yyyy-MM-dd HH:mm:ss"))
}

/// `requestTimestamp`: `yyyy-MM-dd HH:mm:ss` as the spec says, or `yyyyMMddHHmmss` as a
/// popular PHP SDK sends it.
pub fn request_timestamp(value: &Option<String>) -> Result<Millis> {
    let text = required(value, "requestTimestamp", 19)?;
    time::parse_beijing(text, DATE_TIME)
        .or_else(|| {
            (text.len() == 14)
                .then(|| time::parse_beijing(text, "%Y%m%d%H%M%S"))
                .flatten()
        })
        .ok_or_else(|| ChinaumsError::field("requestTimestamp", "格式应为yyyy-MM-dd HH:mm:ss"))
}

pub fn format_time(at: Millis) -> String {
    time::format_beijing_datetime(at)
}

fn format_date(at: Millis) -> String {
    time::beijing(at).format("%Y-%m-%d").to_string()
}

/// A business key (billNo, merOrderId, refundOrderId, qrCodeId): letters, digits, `-_.`.
pub fn key(value: &Option<String>, field: &'static str, max: usize) -> Result<Option<String>> {
    let Some(text) = optional(value, field, max)? else {
        return Ok(None);
    };
    MerchantOrderNo::parse(&text, max).map_err(|e| ChinaumsError::field(field, format!(":{e}")))?;
    Ok(Some(text))
}

/// A JSON array of objects (or a string holding one), at most [`MAX_ELEMENTS`] long.
fn objects(value: &Option<Value>, field: &'static str) -> Result<Option<Vec<Map<String, Value>>>> {
    let parsed;
    let value = match value {
        None => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => {
            parsed = serde_json::from_str::<Value>(s)
                .map_err(|_| ChinaumsError::field(field, "须为JSON数组"))?;
            &parsed
        }
        Some(v) => v,
    };
    let Value::Array(items) = value else {
        return Err(ChinaumsError::field(field, "须为JSON数组"));
    };
    if items.len() > MAX_ELEMENTS {
        return Err(ChinaumsError::field(
            field,
            format!("元素不能超过{MAX_ELEMENTS}个"),
        ));
    }
    items
        .iter()
        .map(|item| match item {
            Value::Object(map) => Ok(map.clone()),
            _ => Err(ChinaumsError::field(field, "的元素须为JSON对象")),
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// An element's field as text.
fn element_text(item: &Map<String, Value>, name: &str) -> Option<String> {
    item.get(name).and_then(crate::common::value_text)
}

fn element_amount(
    item: &Map<String, Value>,
    field: &'static str,
    name: &str,
) -> Result<Option<Fen>> {
    amount(&element_text(item, name), field, 0)
}

pub fn notify_url(
    value: &Option<String>,
    field: &'static str,
    allow_private: bool,
) -> Result<Option<NotifyUrl>> {
    optional(value, field, 512)?
        .map(|u| NotifyUrl::parse(&u, allow_private).map_err(|e| url_error(field, e)))
        .transpose()
}

fn url_error(field: &'static str, e: UrlError) -> ChinaumsError {
    match e {
        UrlError::NotHttpUrl => ChinaumsError::field(field, "须为http(s)地址"),
        UrlError::PrivateAddress => ChinaumsError::field(
            field,
            "不能指向本机或内网地址(允许内网回调须设置[server] allow_private_callbacks = true)",
        ),
    }
}

/// Which of §1.1's three codes a request asks for: a bill number or date makes a one-time
/// code, an amount alone a fixed one, nothing an open one.
pub fn code_kind(req: &QrCodeRequest) -> CodeKind {
    if req.bill_no.is_some() || req.bill_date.is_some() {
        CodeKind::OneTime
    } else if req.total_amount.is_some() {
        CodeKind::FixedAmount
    } else {
        CodeKind::OpenAmount
    }
}

/// What the request is checked and read with.
pub struct Context<'a> {
    pub merchant: &'a ChinaumsMerchant,
    pub merchant_name: &'a str,
    pub now: Millis,
    pub allow_private: bool,
}

/// §1.1/§1.2: the code a request describes. `generated`: the bill number paymux made for
/// a one-time code the merchant sent none for. `earlier`: the code an update changes, whose
/// settings stay where the update says nothing of them.
pub fn new_code(
    req: &QrCodeRequest,
    ctx: &Context<'_>,
    generated: Option<MerchantOrderNo>,
    earlier: Option<&PaymentCode>,
) -> Result<NewCode> {
    let c = &ctx.merchant.credentials;
    let kind = code_kind(req);
    let mut extra = Map::new();
    if earlier.is_some() {
        for key in BILL_KEYS {
            extra.insert(key.into(), Value::Null);
        }
    }
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            extra.insert(k.into(), v);
        }
    };
    put("tid", optional(&req.tid, "tid", 8)?.map(Value::String));
    put(
        "instMid",
        Some(Value::String(
            required(&req.inst_mid, "instMid", 32)?.to_owned(),
        )),
    );
    let bill_desc = optional(&req.bill_desc, "billDesc", 255)?;
    put("billDesc", bill_desc.clone().map(Value::String));
    for (name, field) in [
        ("memberId", &req.member_id),
        ("counterNo", &req.counter_no),
        ("systemId", &req.system_id),
    ] {
        put(name, optional(field, name, 32)?.map(Value::String));
    }
    let total = amount(&req.total_amount, "totalAmount", 1)?;
    let escrow = flag(&req.secure_transaction, "secureTransaction")?.unwrap_or(false);
    let goods = goods(req)?;
    put("goods", goods.clone().map(Value::Array));
    if let Some(split) = division(req, total, escrow, goods.as_deref())? {
        put("divisionFlag", Some(Value::Bool(true)));
        put("platformAmount", split.get("platformAmount").cloned());
        put("subOrders", req.sub_orders.clone());
        put("split", Some(Value::Object(split)));
    }
    for (name, value) in real_name(req)? {
        put(name, Some(Value::String(value)));
    }
    if let Some(limit) = flag(&req.limit_credit_card, "limitCreditCard")? {
        put("limitCreditCard", Some(Value::Bool(limit)));
    }
    let wallet_option = match optional(&req.wallet_option, "walletOption", 8)?.as_deref() {
        None => None,
        Some(o @ ("SINGLE" | "MULTIPLE")) => Some(o.to_owned()),
        Some(_) => return Err(ChinaumsError::field("walletOption", "须为SINGLE或MULTIPLE")),
    };
    let pay_info = notify_url(
        &req.pay_info_query_addr,
        "payInfoQueryAddr",
        ctx.allow_private,
    )?;
    put(
        "payInfoQueryAddr",
        pay_info.map(|u| Value::String(u.as_str().to_owned())),
    );
    let code_ref = key(&req.qr_code_id, "qrCodeId", 32)?;
    let notify = notify_url(&req.notify_url, "notifyUrl", ctx.allow_private)?
        .or_else(|| earlier.and_then(|e| e.notify_url.clone()));
    let also_notify = c
        .notify_url()
        .map(|u| NotifyUrl::from_stored(u.to_owned()))
        .filter(|u| Some(u) != notify.as_ref());
    let return_url = optional(&req.return_url, "returnUrl", 512)?
        .map(|u| ReturnUrl::parse(&u).map_err(|e| url_error("returnUrl", e)))
        .transpose()?
        .or_else(|| earlier.and_then(|e| e.return_url.clone()));
    let expire_time = datetime(&req.expire_time, "expireTime")?;
    if expire_time.is_some_and(|at| at <= ctx.now) {
        return Err(ChinaumsError::field("expireTime", "须晚于当前时间"));
    }
    let subject = bill_desc.unwrap_or_else(|| ctx.merchant_name.to_owned());

    let (bill, amount, one_at_a_time) = match kind {
        CodeKind::OneTime => {
            let bill_date =
                date(&req.bill_date, "billDate")?.ok_or(ChinaumsError::missing("billDate"))?;
            let total = total.ok_or(ChinaumsError::missing("totalAmount"))?;
            let bill_no = match (key(&req.bill_no, "billNo", 28)?, generated) {
                (Some(no), _) => {
                    if no.len() < 6 || !no.starts_with(&c.msg_src_id) {
                        return Err(ChinaumsError::field(
                            "billNo",
                            format!("须以来源编号{}开头,长度6到28位", c.msg_src_id),
                        ));
                    }
                    MerchantOrderNo::from_stored(no)
                }
                (None, Some(generated)) => generated,
                (None, None) => return Err(ChinaumsError::missing("billNo")),
            };
            extra.insert("billDate".into(), Value::String(bill_date));
            let one_at_a_time = wallet_option.as_deref() == Some("SINGLE");
            if let Some(option) = wallet_option {
                extra.insert("walletOption".into(), Value::String(option));
            }
            // The bill carries the code's fields as they will be: an update's over the
            // code's earlier ones.
            let mut bill_extra = earlier.map(|e| e.extra.clone()).unwrap_or_default();
            for (k, v) in &extra {
                if v.is_null() {
                    bill_extra.remove(k);
                } else {
                    bill_extra.insert(k.clone(), v.clone());
                }
            }
            let bill = NewBill {
                merchant_id: ctx.merchant.merchant_id.clone(),
                merchant_order_no: bill_no,
                dialect: super::TAG,
                amount: total,
                subject: subject.clone(),
                body: String::new(),
                notify_url: notify.clone(),
                also_notify: also_notify.clone(),
                return_url: return_url.clone(),
                extra: bill_extra,
                expires_at: Some(expire_time.unwrap_or(ctx.now.plus_secs(ONE_TIME_TTL_S))),
                one_at_a_time,
                escrow,
                splits: extra.get("split").and_then(splits_of),
            };
            (Some(bill), None, one_at_a_time)
        }
        CodeKind::FixedAmount => (None, total, false),
        CodeKind::OpenAmount => (None, None, false),
    };
    let expires_at = bill.as_ref().and_then(|b| b.expires_at).or(expire_time);
    // A fixed-amount code's split goes to each bill it makes (a one-time code's bill
    // carries its own).
    let splits = match kind {
        CodeKind::FixedAmount => extra.get("split").and_then(splits_of),
        CodeKind::OneTime | CodeKind::OpenAmount => None,
    };
    Ok(NewCode {
        merchant_id: ctx.merchant.merchant_id.clone(),
        dialect: super::TAG,
        code_ref,
        kind,
        amount,
        subject,
        notify_url: notify,
        also_notify,
        return_url,
        expires_at,
        extra,
        bill_no_prefix: c.msg_src_id.clone(),
        one_at_a_time,
        escrow,
        splits,
        bill,
    })
}

/// goods: each element an object; one that names a sub-merchant must say its amount.
fn goods(req: &QrCodeRequest) -> Result<Option<Vec<Value>>> {
    let Some(items) = objects(&req.goods, "goods")? else {
        return Ok(None);
    };
    for item in &items {
        if element_text(item, "subMerchantId").is_some()
            && element_amount(item, "goods.subOrderAmount", "subOrderAmount")?.is_none()
        {
            return Err(ChinaumsError::field(
                "goods",
                "中传了子商户号subMerchantId的商品须传subOrderAmount",
            ));
        }
    }
    Ok(Some(items.into_iter().map(Value::Object).collect()))
}

/// The core's split of a bill from the split kept in its `extra`
/// (`{"platformAmount": n, "subOrders": [{"mid", "totalAmount"}]}`, checked by `division`).
pub fn splits_of(split: &Value) -> Option<Splits> {
    let platform = Fen::new(split.get("platformAmount")?.as_i64()?).ok()?;
    let shares = split
        .get("subOrders")?
        .as_array()?
        .iter()
        .map(|sub| {
            Some(Share {
                party: sub.get("mid")?.as_str()?.to_owned(),
                amount: Fen::new(sub.get("totalAmount")?.as_i64()?).ok()?,
            })
        })
        .collect::<Option<Vec<Share>>>()?;
    Some(Splits { platform, shares })
}

/// §1.1 分账: with `divisionFlag`, the split (`platformAmount` and each sub-merchant's
/// share) after checking the spec's rules; `None` without it.
fn division(
    req: &QrCodeRequest,
    total: Option<Fen>,
    escrow: bool,
    goods: Option<&[Value]>,
) -> Result<Option<Map<String, Value>>> {
    let divided = flag(&req.division_flag, "divisionFlag")?.unwrap_or(false);
    let sub_orders = objects(&req.sub_orders, "subOrders")?;
    if !divided {
        if sub_orders.is_some() || req.platform_amount.is_some() {
            return Err(ChinaumsError::field(
                "divisionFlag",
                "须为true:subOrders和platformAmount只用于分账",
            ));
        }
        return Ok(None);
    }
    if escrow {
        return Err(ChinaumsError::field(
            "secureTransaction",
            "须为false或不上送:分账账单不能是担保交易",
        ));
    }
    // The shares add up to totalAmount: an open code (no amount of its own) has none to
    // split, and each of a fixed-amount code's bills is split the same way.
    let total = total.ok_or_else(|| {
        ChinaumsError::field(
            "divisionFlag",
            "为true时须传totalAmount:分账总额须等于totalAmount,不带金额的固定二维码不能分账",
        )
    })?;
    let platform = amount(&req.platform_amount, "platformAmount", 0)?
        .ok_or_else(|| ChinaumsError::field("platformAmount", "分账账单必传"))?;
    let mut shares: Vec<(String, i64)> = Vec::new();
    match (sub_orders, goods) {
        (Some(subs), _) if !subs.is_empty() => {
            let mut sum = platform.get();
            for sub in &subs {
                let mid = element_text(sub, "mid")
                    .filter(|m| m.len() <= 15)
                    .ok_or_else(|| ChinaumsError::field("subOrders.mid", "必传,不超过15位"))?;
                let share = element_amount(sub, "subOrders.totalAmount", "totalAmount")?
                    .ok_or_else(|| ChinaumsError::missing("subOrders.totalAmount"))?;
                sum += share.get();
                add_share(&mut shares, mid, share.get());
            }
            if sum != total.get() {
                return Err(ChinaumsError::field(
                    "subOrders",
                    "子商户分账总额加platformAmount须等于totalAmount",
                ));
            }
        }
        (_, Some(goods)) if !goods.is_empty() => {
            // Each sub-merchant's goods' share of what the platform does not keep.
            let mut items = Vec::new();
            for item in goods.iter().filter_map(Value::as_object) {
                let mid = element_text(item, "subMerchantId").ok_or_else(|| {
                    ChinaumsError::field("goods", "中每个商品须传子商户号subMerchantId")
                })?;
                let value = element_amount(item, "goods.subOrderAmount", "subOrderAmount")?
                    .ok_or_else(|| ChinaumsError::missing("goods.subOrderAmount"))?;
                items.push((mid, value.get()));
            }
            let sum: i64 = items.iter().map(|(_, v)| v).sum();
            if sum != total.get() {
                return Err(ChinaumsError::field(
                    "goods",
                    "中子商户商品总额须等于totalAmount",
                ));
            }
            if platform > total {
                return Err(ChinaumsError::field(
                    "platformAmount",
                    "不能超过totalAmount",
                ));
            }
            for (mid, share) in proportional(&items, total.get() - platform.get()) {
                add_share(&mut shares, mid, share);
            }
        }
        _ => {
            return Err(ChinaumsError::field(
                "divisionFlag",
                "为true时goods和subOrders不能同时为空",
            ));
        }
    }
    let sub_orders: Vec<Value> = shares
        .into_iter()
        .map(|(mid, share)| json!({"mid": mid, "totalAmount": share}))
        .collect();
    let mut split = Map::new();
    split.insert("platformAmount".into(), json!(platform.get()));
    split.insert("subOrders".into(), Value::Array(sub_orders));
    Ok(Some(split))
}

fn add_share(shares: &mut Vec<(String, i64)>, mid: String, amount: i64) {
    match shares.iter_mut().find(|(m, _)| *m == mid) {
        Some((_, sum)) => *sum += amount,
        None => shares.push((mid, amount)),
    }
}

/// `pool` divided in proportion to the items' values, exactly: each gets the floor of its
/// share, and the fen left over go one each to the largest remainders (the earlier item
/// first on a tie).
fn proportional(items: &[(String, i64)], pool: i64) -> Vec<(String, i64)> {
    let total: i64 = items.iter().map(|(_, v)| v).sum();
    if total <= 0 {
        return items.iter().map(|(m, _)| (m.clone(), 0)).collect();
    }
    let mut parts: Vec<(usize, i64, i64)> = items
        .iter()
        .enumerate()
        .map(|(i, (_, v))| {
            let exact = i128::from(*v) * i128::from(pool);
            let floor = i64::try_from(exact / i128::from(total)).unwrap_or(0);
            let rest = i64::try_from(exact % i128::from(total)).unwrap_or(0);
            (i, floor, rest)
        })
        .collect();
    let mut left = pool - parts.iter().map(|(_, f, _)| f).sum::<i64>();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| parts[b].2.cmp(&parts[a].2).then(a.cmp(&b)));
    for i in order {
        if left == 0 {
            break;
        }
        parts[i].1 += 1;
        left -= 1;
    }
    parts
        .into_iter()
        .map(|(i, share, _)| (items[i].0.clone(), share))
        .collect()
}

const CERT_TYPES: [&str; 5] = [
    "IDENTITY_CARD",
    "PASSPORT",
    "OFFICER_CARD",
    "SOLDIER_CARD",
    "HOKOU",
];

/// The real-name fields: only with `fixBuyer=T`, which needs `name` and `certNo`; the
/// name, mobile and certificate number base64-encoded, the certificate type not.
fn real_name(req: &QrCodeRequest) -> Result<Vec<(&'static str, String)>> {
    let fix_buyer = optional(&req.fix_buyer, "fixBuyer", 32)?;
    let mut found = Vec::new();
    for (name, value, max) in [
        ("name", &req.name, 32),
        ("mobile", &req.mobile, 20),
        ("certNo", &req.cert_no, 32),
    ] {
        if let Some(text) = optional(value, name, max)? {
            STANDARD
                .decode(text.as_bytes())
                .map_err(|_| ChinaumsError::field(name, "须为Base64编码"))?;
            found.push((name, text));
        }
    }
    if let Some(cert_type) = optional(&req.cert_type, "certType", 32)? {
        if !CERT_TYPES.contains(&cert_type.as_str()) {
            return Err(ChinaumsError::field(
                "certType",
                "须为IDENTITY_CARD、PASSPORT、OFFICER_CARD、SOLDIER_CARD或HOKOU(不做Base64编码)",
            ));
        }
        found.push(("certType", cert_type));
    }
    match fix_buyer.as_deref() {
        None | Some("F") if found.is_empty() => Ok(found),
        None | Some("F") => Err(ChinaumsError::field("fixBuyer", "须为T:上送了实名认证信息")),
        Some("T") => {
            for need in ["name", "certNo"] {
                if !found.iter().any(|(k, _)| *k == need) {
                    return Err(ChinaumsError::field(need, "实名认证(fixBuyer=T)必传"));
                }
            }
            found.push(("fixBuyer", "T".into()));
            Ok(found)
        }
        Some(_) => Err(ChinaumsError::field("fixBuyer", "须为T")),
    }
}

/// The page a code's QR image opens.
pub struct CodeLinks<'a> {
    pub public_url: &'a str,
    pub links: &'a paymux_core::links::PayerLinks,
}

impl CodeLinks<'_> {
    pub fn code_url(&self, code_id: &str) -> String {
        format!("{}{}", self.public_url, self.links.code_path(code_id))
    }

    fn of_order(&self, order: &Order) -> Option<String> {
        order.code_id.as_ref().map(|id| self.code_url(id.as_str()))
    }
}

fn extra_text(extra: &Map<String, Value>, key: &str) -> Option<String> {
    extra.get(key).and_then(crate::common::value_text)
}

/// The bill's date: as the merchant gave it, or the day a fixed code made it.
pub fn bill_date(order: &Order) -> String {
    order
        .extra_str("billDate")
        .map(str::to_owned)
        .unwrap_or_else(|| format_date(order.created_at))
}

/// A try's `merOrderId`: the bill number and the try's sequence number less one (the
/// spec's example: `…2644` paid by `…26440`).
pub fn mer_order_id(order: &Order, attempt: &Attempt) -> String {
    format!("{}{}", order.merchant_order_no, attempt.seq - 1)
}

/// §2.4: the system the try paid through.
pub fn target_sys(way: PayWay) -> &'static str {
    match way.wallet {
        Wallet::WeChat => "WXPay",
        Wallet::Alipay => "Alipay 2.0",
        // A UnionPay QR scanned by a UnionPay app: 银联全渠道立码付.
        Wallet::UnionPay if way.method == PayMethod::Qr => "ACP",
        Wallet::UnionPay => "UnionPay",
        Wallet::Jd => "JD",
        Wallet::Baidu => "BaiDu",
        Wallet::Bank => "QMF",
        Wallet::Qq | Wallet::SocialSecurity => "NetPayBills",
    }
}

fn pay_detail(way: PayWay, amount: Fen) -> String {
    let how = match way.wallet {
        Wallet::WeChat => "现金支付",
        Wallet::Alipay => "余额支付",
        Wallet::UnionPay => "云闪付支付",
        _ => "支付",
    };
    format!("{how}{}元。", amount.to_yuan_string())
}

/// §1.4 billStatus.
pub fn bill_status(order: &Order, attempts: &[Attempt]) -> &'static str {
    match order.status {
        OrderStatus::Created | OrderStatus::Paying
            if attempts.iter().any(|a| a.status == AttemptStatus::Held) =>
        {
            "UNKNOWN"
        }
        OrderStatus::Created | OrderStatus::Paying => "UNPAID",
        OrderStatus::Succeeded | OrderStatus::PartiallyRefunded | OrderStatus::Refunded
            if order.refunded > Fen::ZERO || order.refund_reserved > Fen::ZERO =>
        {
            "REFUND"
        }
        OrderStatus::Succeeded | OrderStatus::PartiallyRefunded | OrderStatus::Refunded => "PAID",
        OrderStatus::Closed | OrderStatus::Failed => "CLOSED",
    }
}

/// §2.2 status of a try.
fn payment_status(order: &Order, attempt: &Attempt) -> &'static str {
    match attempt.status {
        AttemptStatus::Paying => "WAIT_BUYER_PAY",
        AttemptStatus::Succeeded if order.status == OrderStatus::Refunded => "TRADE_CLOSED",
        AttemptStatus::Succeeded
            if order.refunded > Fen::ZERO || order.refund_reserved > Fen::ZERO =>
        {
            "TRADE_REFUND"
        }
        AttemptStatus::Succeeded => "TRADE_SUCCESS",
        AttemptStatus::Failed | AttemptStatus::Closed => "TRADE_CLOSED",
        AttemptStatus::Held => "UNKNOWN",
    }
}

/// The try a bill's status is about: the one that paid it; while unpaid, the one under
/// way (or held); none when every try failed.
pub fn reported_attempt<'a>(order: &Order, attempts: &'a [Attempt]) -> Option<&'a Attempt> {
    if order.status.is_paid() {
        return attempts
            .iter()
            .find(|a| a.status == AttemptStatus::Succeeded);
    }
    if order.status.is_open() {
        return attempts
            .iter()
            .rev()
            .find(|a| matches!(a.status, AttemptStatus::Paying | AttemptStatus::Held));
    }
    None
}

/// A reference of paymux's for a try (`paySeqId`): the bill's platform id and the try's
/// number.
fn pay_seq_id(order: &Order, attempt: &Attempt) -> String {
    format!(
        "{}{:02}",
        order.id.as_str().trim_start_matches('P'),
        attempt.seq
    )
}

pub fn bill_payment(order: &Order, attempt: &Attempt) -> BillPayment {
    let paid = attempt.status == AttemptStatus::Succeeded;
    let amount = Some(order.amount.get());
    let pay_time = attempt.finished_at.filter(|_| paid);
    BillPayment {
        total_amount: amount,
        pay_time: pay_time.map(format_time),
        bill_biz_type: Some(BILL_BIZ_TYPE.into()),
        target_order_id: attempt.channel_trade_no.clone(),
        pay_seq_id: Some(pay_seq_id(order, attempt)),
        invoice_amount: paid.then_some(order.amount.get()),
        buyer_pay_amount: paid.then_some(order.amount.get()),
        coupon_amount: paid.then_some(0),
        discount_amount: None,
        pay_detail: paid.then(|| pay_detail(attempt.pay_way, order.amount)),
        settle_date: pay_time.map(format_date),
        buyer_id: attempt.channel_user.clone(),
        buyer_username: None,
        mer_order_id: Some(mer_order_id(order, attempt)),
        status: Some(payment_status(order, attempt).into()),
        target_sys: Some(target_sys(attempt.pay_way).into()),
    }
}

/// A refund as §1.4's `refundBillPayment`.
pub fn refund_bill_payment(refund: &Refund, attempt: Option<&Attempt>) -> BillPayment {
    let done = refund.status == RefundStatus::Succeeded;
    let at = refund.finished_at.filter(|_| done);
    BillPayment {
        total_amount: Some(refund.amount.get()),
        pay_time: at.map(format_time),
        bill_biz_type: Some(BILL_BIZ_TYPE.into()),
        target_order_id: refund.channel_refund_no.clone(),
        invoice_amount: Some(refund.amount.get()),
        buyer_pay_amount: Some(refund.amount.get()),
        settle_date: at.map(format_date),
        mer_order_id: refund.refund_no.as_ref().map(ToString::to_string),
        status: Some(
            match refund.status {
                RefundStatus::Succeeded => "TRADE_SUCCESS",
                RefundStatus::Requested => "UNKNOWN",
                RefundStatus::Failed => "TRADE_CLOSED",
            }
            .into(),
        ),
        target_sys: attempt.map(|a| target_sys(a.pay_way).into()),
        ..BillPayment::default()
    }
}

/// §1.5 refundStatus.
pub fn refund_status(refund: &Refund) -> &'static str {
    match refund.status {
        RefundStatus::Requested => "PROCESSING",
        RefundStatus::Succeeded => "SUCCESS",
        RefundStatus::Failed => "FAIL",
    }
}

/// §2.3 secureStatus.
pub fn secure_status(status: EscrowStatus) -> &'static str {
    match status {
        EscrowStatus::Uncompleted => "UNCOMPLETED",
        EscrowStatus::PartlyCompleted => "PARTLY_COMPLETED",
        EscrowStatus::AllCompleted => "ALL_COMPLETED",
        EscrowStatus::Canceled => "CANCELED",
    }
}

/// What every reply echoes of its request.
#[derive(Debug, Clone, Default)]
pub struct Echo {
    pub msg_id: Option<String>,
    pub src_reserve: Option<String>,
    pub request_timestamp: Option<String>,
    pub mid: Option<String>,
    pub tid: Option<String>,
    pub inst_mid: Option<String>,
}

impl Echo {
    /// Reads what it can of a request's params, unchecked but for length.
    pub fn of(params: Option<&crate::common::Params>) -> Echo {
        let text = |name: &str, max: usize| {
            params
                .and_then(|p| p.get(name))
                .and_then(crate::common::value_text)
                .filter(|t| t.chars().count() <= max && !t.contains('\0'))
        };
        Echo {
            msg_id: text("msgId", 64),
            src_reserve: text("srcReserve", 255),
            request_timestamp: text("requestTimestamp", 19),
            mid: text("mid", 15),
            tid: text("tid", 8),
            inst_mid: text("instMid", 32),
        }
    }

    /// The reply's common part. `spellings`: which timestamp fields the interface's table
    /// and example name.
    pub fn reply(&self, now: Millis, spellings: Spellings) -> Reply {
        let at = format_time(now);
        Reply {
            msg_id: self.msg_id.clone(),
            response_timestamp: Some(at.clone()),
            response_time_stamp: spellings.response_time_stamp.then(|| at.clone()),
            request_timestamp: if spellings.request_timestamp {
                self.request_timestamp.clone()
            } else {
                None
            },
            src_reserve: self.src_reserve.clone(),
            mid: self.mid.clone(),
            tid: self.tid.clone(),
            inst_mid: self.inst_mid.clone(),
            ..Reply::default()
        }
    }
}

/// The timestamps an interface's reply carries besides `responseTimestamp` (the examples'
/// spelling): its table's `responseTimeStamp` (§1.1–§1.5), or its table's
/// `requestTimestamp`, echoed (§1.6–§1.8).
#[derive(Debug, Clone, Copy, Default)]
pub struct Spellings {
    pub response_time_stamp: bool,
    pub request_timestamp: bool,
}

/// §1.1/§1.2's reply fields of a code and its bill.
pub fn code_reply(
    mut reply: Reply,
    code: &PaymentCode,
    bill: Option<&Order>,
    links: &CodeLinks<'_>,
) -> Reply {
    reply.qr_code_id = Some(code.code_ref.clone());
    reply.system_id = extra_text(&code.extra, "systemId");
    reply.bill_no = bill.map(|b| b.merchant_order_no.to_string());
    reply.bill_date = bill.map(bill_date);
    reply.bill_qr_code = Some(links.code_url(code.id.as_str()));
    reply
}

/// §1.6: a code's static information.
pub fn code_info(
    mut reply: Reply,
    code: &PaymentCode,
    bill: Option<&Order>,
    mid: &str,
    merchant_name: &str,
    links: &CodeLinks<'_>,
) -> Reply {
    let url = links.code_url(code.id.as_str());
    reply.mid = Some(mid.to_owned());
    reply.tid = extra_text(&code.extra, "tid");
    reply.inst_mid = extra_text(&code.extra, "instMid");
    reply.qr_code_id = Some(code.code_ref.clone());
    reply.system_id = extra_text(&code.extra, "systemId");
    reply.bill_no = bill.map(|b| b.merchant_order_no.to_string());
    reply.bill_date = bill.map(bill_date);
    reply.bill_desc = extra_text(&code.extra, "billDesc");
    reply.total_amount = code.amount.map(Fen::get);
    reply.goods = code.extra.get("goods").filter(|g| !g.is_null()).cloned();
    reply.member_id = extra_text(&code.extra, "memberId");
    reply.counter_no = extra_text(&code.extra, "counterNo");
    reply.expire_time = code.expires_at.map(format_time);
    reply.notify_url = code.notify_url.as_ref().map(|u| u.as_str().to_owned());
    reply.return_url = code.return_url.as_ref().map(|u| u.as_str().to_owned());
    reply.mer_name = Some(merchant_name.to_owned());
    reply.qr_code_url = Some(url.clone());
    reply.bill_qr_code = Some(url);
    reply
}

/// The fields a bill's reply, notification and return link share.
fn bill_fields(reply: &mut Reply, order: &Order, attempts: &[Attempt], links: &CodeLinks<'_>) {
    reply.bill_no = Some(order.merchant_order_no.to_string());
    reply.bill_date = Some(bill_date(order));
    reply.bill_status = Some(bill_status(order, attempts).into());
    reply.bill_qr_code = links.of_order(order);
}

/// §1.4: a bill, the try that paid it (or is under way), a refund when asked for.
pub fn query_reply(
    mut reply: Reply,
    order: &Order,
    attempts: &[Attempt],
    refund: Option<&Refund>,
    merchant_name: &str,
    links: &CodeLinks<'_>,
) -> Reply {
    bill_fields(&mut reply, order, attempts, links);
    reply.create_time = Some(format_time(order.created_at));
    reply.bill_desc = order.extra_str("billDesc").map(str::to_owned);
    reply.total_amount = Some(order.amount.get());
    reply.member_id = order.extra_str("memberId").map(str::to_owned);
    reply.counter_no = order.extra_str("counterNo").map(str::to_owned);
    reply.mer_name = Some(merchant_name.to_owned());
    if let Some(escrow) = order.escrow {
        reply.secure_status = Some(secure_status(escrow.status).into());
        reply.complete_amount = escrow
            .status
            .allows_refunds()
            .then_some(escrow.completed.get());
    }
    let shown = reported_attempt(order, attempts);
    reply.memo = shown.and_then(|a| a.memo.clone());
    reply.bill_payment = shown.map(|a| bill_payment(order, a));
    reply.card_attr = shown
        .filter(|a| a.status == AttemptStatus::Succeeded)
        .and_then(card_attr)
        .map(Into::into);
    reply.refund_bill_payment = refund.map(|r| refund_bill_payment(r, shown));
    reply
}

/// §1.5: a refund of a bill.
pub fn refund_reply(
    mut reply: Reply,
    order: &Order,
    attempts: &[Attempt],
    refund: &Refund,
    links: &CodeLinks<'_>,
) -> Reply {
    bill_fields(&mut reply, order, attempts, links);
    let paid = attempts.iter().find(|a| a.seq == refund.attempt_seq);
    reply.mer_order_id = paid.map(|a| mer_order_id(order, a));
    reply.refund_order_id = refund.refund_no.as_ref().map(ToString::to_string);
    reply.refund_target_order_id = refund.channel_refund_no.clone();
    reply.refund_pay_time = refund
        .finished_at
        .filter(|_| refund.status == RefundStatus::Succeeded)
        .map(format_time);
    reply.refund_status = Some(refund_status(refund).into());
    reply.refund_amount = Some(refund.amount.get());
    reply.card_attr = paid.and_then(card_attr).map(Into::into);
    reply
}

/// §1.7/§1.8: an escrowed payment after it was completed or canceled.
pub fn secure_reply(
    mut reply: Reply,
    order: &Order,
    attempts: &[Attempt],
    merchant_name: &str,
) -> Reply {
    let paid = attempts
        .iter()
        .find(|a| a.status == AttemptStatus::Succeeded);
    if let Some(escrow) = order.escrow {
        reply.secure_status = Some(secure_status(escrow.status).into());
        reply.completed_amount = Some(escrow.completed.get());
    }
    reply.mer_order_id = paid.map(|a| mer_order_id(order, a));
    reply.total_amount = Some(order.amount.get());
    reply.mer_name = Some(merchant_name.to_owned());
    if let Some(a) = paid {
        let payment = bill_payment(order, a);
        reply.status = payment.status;
        reply.target_sys = payment.target_sys;
        reply.target_order_id = payment.target_order_id;
        reply.seq_id = payment.pay_seq_id.clone();
        reply.seg_id = payment.pay_seq_id.clone();
        reply.settle_ref_id = payment.pay_seq_id;
        reply.card_attr = card_attr(a).map(Into::into);
    }
    reply
}

/// The signed result fields of a paid bill, for its notification (§1.11) and its return
/// link (§1.10): every non-empty field of their tables, `billPayment` as its JSON text.
/// `notify_id`: a notification's (it adds the escrow fields and `extraBuyerInfo`).
#[allow(clippy::too_many_arguments)]
pub fn result_fields(
    order: &Order,
    paid: &Attempt,
    mid: &str,
    merchant_name: &str,
    links: &CodeLinks<'_>,
    notify_id: Option<&str>,
) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            fields.push((k.to_owned(), v));
        }
    };
    put("mid", Some(mid.to_owned()));
    put("tid", order.extra_str("tid").map(str::to_owned));
    put(
        "instMid",
        Some(order.extra_str("instMid").unwrap_or(INST_MID).to_owned()),
    );
    put("billNo", Some(order.merchant_order_no.to_string()));
    put("billQRCode", links.of_order(order));
    put("billDate", Some(bill_date(order)));
    put("createTime", Some(format_time(order.created_at)));
    put(
        "billStatus",
        Some(bill_status(order, std::slice::from_ref(paid)).into()),
    );
    put("billDesc", order.extra_str("billDesc").map(str::to_owned));
    put("totalAmount", Some(order.amount.get().to_string()));
    put("memberId", order.extra_str("memberId").map(str::to_owned));
    put("counterNo", order.extra_str("counterNo").map(str::to_owned));
    put("merName", Some(merchant_name.to_owned()));
    put("memo", paid.memo.clone());
    if let Some(id) = notify_id {
        put("notifyId", Some(id.to_owned()));
        if let Some(escrow) = order.escrow {
            put("secureStatus", Some(secure_status(escrow.status).into()));
            if escrow.status.allows_refunds() {
                put("completeAmount", Some(escrow.completed.get().to_string()));
            }
        }
    }
    put(
        "billPayment",
        serde_json::to_string(&bill_payment(order, paid)).ok(),
    );
    if notify_id.is_some() {
        put(
            "extraBuyerInfo",
            card_attr(paid).map(|attr| json!({"cardAttr": attr}).to_string()),
        );
    }
    fields
}

/// A generated refund number, as a refund number.
pub fn refund_no(text: &str) -> Result<RefundNo> {
    RefundNo::parse(text, 32).map_err(|e| ChinaumsError::field("refundOrderId", format!(":{e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goods_split_in_proportion_to_the_fen() {
        let items = vec![
            ("A".to_owned(), 1),
            ("B".to_owned(), 1),
            ("C".to_owned(), 1),
        ];
        assert_eq!(
            proportional(&items, 100),
            vec![
                ("A".to_owned(), 34),
                ("B".to_owned(), 33),
                ("C".to_owned(), 33)
            ]
        );
        let items = vec![("A".to_owned(), 300), ("B".to_owned(), 700)];
        assert_eq!(
            proportional(&items, 990),
            vec![("A".to_owned(), 297), ("B".to_owned(), 693)]
        );
    }

    #[test]
    fn wallets_map_to_the_spec_target_systems() {
        assert_eq!(
            target_sys(PayWay::new(Wallet::WeChat, PayMethod::Qr)),
            "WXPay"
        );
        assert_eq!(
            target_sys(PayWay::new(Wallet::Alipay, PayMethod::Qr)),
            "Alipay 2.0"
        );
        assert_eq!(
            target_sys(PayWay::new(Wallet::UnionPay, PayMethod::Qr)),
            "ACP"
        );
        assert_eq!(
            target_sys(PayWay::new(Wallet::UnionPay, PayMethod::H5)),
            "UnionPay"
        );
    }

    #[test]
    fn request_timestamps_come_in_both_forms() {
        let dashed = request_timestamp(&Some("2024-01-02 11:04:05".into())).unwrap();
        let compact = request_timestamp(&Some("20240102110405".into())).unwrap();
        assert_eq!(dashed, compact);
        assert!(request_timestamp(&Some("2024/01/02".into())).is_err());
        assert!(request_timestamp(&None).is_err());
    }
}

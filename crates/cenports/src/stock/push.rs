//! The push: plan, write in full batches, isolate rejected items, read back, record.
//!
//! Writes go to the store's [`StockOut`], the only thing that knows the channel's wire format.
//! The loop here owns the rules that do not depend on the channel:
//!
//! - each kind is cut into batches of the channel's limit, so a push costs
//!   ⌈variant writes / its variant batch⌉ + ⌈product writes / its product batch⌉ requests when nothing is
//!   rejected (the floor), and nothing at all when nothing changed;
//! - a batch the channel rejects *naming items* loses those items (each reported on its SKU)
//!   and the rest is sent again; a rejection that names none fails the whole batch, reported
//!   on each of its SKUs. Each resend is one item shorter at least, so the loop ends;
//! - any other failure (outage, revoked token, quota) stops the push: the SKUs not yet written
//!   are reported `failed` with the error, and what was written is still read back;
//! - every written level is read back (the channel reads by id, 250 per request), compared with
//!   what was sent, and the store's answer becomes the SKU's "last reported" level. A
//!   difference is recorded as a `mismatch`: usually an order placed between our write and the
//!   read, which the next push after that order's import corrects.
//!
//! The push's requests are [`Priority::Hint`] in the store's quota: ahead of order and catalog
//! walks, behind shipments.

use std::collections::HashMap;

use crate::channel::{
    with_priority, Priority, StockOut, StoreClient, Write, WriteKind, WriteOutcome,
};
use crate::storage::{PushRecord, Storage, StorageError, StoreScope};

use super::plan::{plan_push, Plan};

/// The outcome for one SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkuStatus {
    /// Written, and the store reads back what was sent.
    Ok,
    /// Written, but the store reads back another level (or not at all).
    Mismatch,
    /// Written, but the read-back failed: unknown until the next push.
    Unverified,
    /// The channel refused this item; the rest of its batch was sent again.
    Rejected,
    /// Not written: the push stopped on an error first, or its batch failed as a whole.
    Failed,
    /// Not written: see [`super::Skip`].
    Skipped,
}

impl SkuStatus {
    /// The status word, as recorded and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Mismatch => "mismatch",
            Self::Unverified => "unverified",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// What a push did for one SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuOutcome {
    /// The SKU.
    pub sku: String,
    /// What happened.
    pub status: SkuStatus,
    /// The recorded status word: [`SkuStatus::as_str`], or the skip reason for skipped SKUs
    /// (`untracked`, `not_in_catalog`, ...).
    pub detail: &'static str,
    /// The available quantity the hub wanted the store to show.
    pub level: i64,
    /// What the store reported on read-back, when read.
    pub reported: Option<i64>,
    /// Why, for anything but `ok`.
    pub message: Option<String>,
}

/// What a push did and what it cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushReport {
    /// SKUs with stock in the hub.
    pub skus: usize,
    /// Variant-tracked SKUs whose level differed (planned variant writes).
    pub variant_changed: usize,
    /// Product-tracked SKUs whose level differed (planned product writes).
    pub product_changed: usize,
    /// SKUs of untracked products (never written).
    pub untracked: usize,
    /// SKUs equal to what the store last reported.
    pub unchanged: usize,
    /// Write requests sent (retries included).
    pub write_requests: u64,
    /// Read-back requests sent (retries included).
    pub read_requests: u64,
    /// ⌈variant writes / batch⌉ + ⌈product writes / batch⌉.
    pub floor: u64,
    /// One entry per SKU that was written or left out (unchanged SKUs have none).
    pub outcomes: Vec<SkuOutcome>,
    /// The error that stopped the push, if one did.
    pub aborted: Option<String>,
}

impl PushReport {
    /// How many SKUs ended with this status.
    pub fn count(&self, status: SkuStatus) -> usize {
        self.outcomes.iter().filter(|o| o.status == status).count()
    }
}

/// Pushes the store's available quantities through its client: only SKUs that differ from
/// what the store last reported, in full batches, then reads back and records the outcome per
/// SKU.
///
/// A channel error does not lose what was learned: outcomes are recorded and the error is in
/// [`PushReport::aborted`]. Only a storage error is returned as an error.
pub async fn push_stock(
    storage: &Storage,
    scope: &StoreScope,
    client: &dyn StoreClient,
) -> Result<PushReport, StorageError> {
    let channel = client.stock();
    let rows = storage.stock_rows(scope).await?;
    let buffer = storage.stock_buffer(scope).await?;
    let plan = plan_push(&rows, buffer);
    let mut report = PushReport {
        skus: rows.len(),
        variant_changed: plan.variant_writes.len(),
        product_changed: plan.product_writes.len(),
        untracked: plan.untracked(),
        unchanged: plan.unchanged.len(),
        floor: plan.floor(
            channel.batch_limit(WriteKind::Variant),
            channel.batch_limit(WriteKind::Product),
        ),
        ..PushReport::default()
    };
    let Plan {
        variant_writes,
        product_writes,
        skipped,
        ..
    } = plan;
    for (sku, skip, level) in skipped {
        report.outcomes.push(SkuOutcome {
            sku,
            status: SkuStatus::Skipped,
            detail: skip.status(),
            level,
            reported: None,
            message: Some(skip.message()),
        });
    }

    with_priority(Priority::Hint, async {
        let before = client.requests_sent();
        let mut written: Vec<Write> = Vec::new();
        for (kind, writes) in [
            (WriteKind::Variant, variant_writes),
            (WriteKind::Product, product_writes),
        ] {
            write_kind(channel, kind, writes, &mut written, &mut report).await;
        }
        let after_writes = client.requests_sent();
        report.write_requests = after_writes - before;

        read_back(channel, written, &mut report).await;
        report.read_requests = client.requests_sent() - after_writes;
    })
    .await;

    let records: Vec<PushRecord> = report
        .outcomes
        .iter()
        .map(|o| PushRecord {
            sku: o.sku.clone(),
            level_sent: match o.status {
                SkuStatus::Ok | SkuStatus::Mismatch | SkuStatus::Unverified => Some(o.level),
                _ => None,
            },
            status: o.detail.to_owned(),
            message: o.message.clone(),
            reported_level: o.reported,
        })
        .collect();
    storage.record_push(scope, &records).await?;
    tracing::info!(
        store.id = scope.store_id().get(),
        stock.skus = report.skus,
        stock.written = report.count(SkuStatus::Ok) + report.count(SkuStatus::Mismatch),
        stock.rejected = report.count(SkuStatus::Rejected),
        channel.write_requests = report.write_requests,
        channel.read_requests = report.read_requests,
        "stock push done"
    );
    Ok(report)
}

fn outcome(write: &Write, status: SkuStatus, message: Option<String>) -> SkuOutcome {
    SkuOutcome {
        sku: write.sku.clone(),
        status,
        detail: status.as_str(),
        level: write.level,
        reported: None,
        message,
    }
}

/// Writes one kind in batches; on an error that is not a rejection, marks everything left
/// `failed` and stops (later kinds see `aborted` and do not start).
async fn write_kind(
    channel: &dyn StockOut,
    kind: WriteKind,
    writes: Vec<Write>,
    written: &mut Vec<Write>,
    report: &mut PushReport,
) {
    let limit = channel.batch_limit(kind).max(1);
    let mut batches: Vec<Vec<Write>> = writes.chunks(limit).map(<[Write]>::to_vec).collect();
    batches.reverse();
    while let Some(mut batch) = batches.pop() {
        if let Some(error) = &report.aborted {
            let message = format!("not sent: the push stopped on an earlier error ({error})");
            for write in batch.iter().chain(batches.iter().flatten()) {
                report
                    .outcomes
                    .push(outcome(write, SkuStatus::Failed, Some(message.clone())));
            }
            return;
        }
        loop {
            match channel.write(kind, &batch).await {
                Ok(WriteOutcome::Applied) => {
                    written.append(&mut batch);
                    break;
                }
                Ok(WriteOutcome::Rejected { items, message }) => {
                    let named: HashMap<usize, String> = items
                        .into_iter()
                        .filter(|(index, _)| *index < batch.len())
                        .collect();
                    if named.is_empty() {
                        let message = format!(
                            "the store refused the whole batch without naming an item: \
                             {message}; check these SKUs in the store and push again"
                        );
                        for write in &batch {
                            report.outcomes.push(outcome(
                                write,
                                SkuStatus::Failed,
                                Some(message.clone()),
                            ));
                        }
                        break;
                    }
                    let mut rest = Vec::with_capacity(batch.len() - named.len());
                    for (index, write) in batch.into_iter().enumerate() {
                        match named.get(&index) {
                            Some(why) => report.outcomes.push(outcome(
                                &write,
                                SkuStatus::Rejected,
                                Some(format!(
                                    "the store refused the {} level {}: {why}; check the SKU in \
                                     the store (sync the catalog if it changed) and push again",
                                    kind.as_str(),
                                    write.level
                                )),
                            )),
                            None => rest.push(write),
                        }
                    }
                    if rest.is_empty() {
                        break;
                    }
                    batch = rest;
                }
                Err(error) => {
                    let text = error.to_string();
                    tracing::warn!(channel.write = kind.as_str(), error = %text, "stock push stopped");
                    for write in &batch {
                        report.outcomes.push(outcome(
                            write,
                            SkuStatus::Failed,
                            Some(format!("not written: {text}")),
                        ));
                    }
                    report.aborted = Some(text);
                    break;
                }
            }
        }
    }
}

/// Reads back every written level and turns each write into `ok`, `mismatch` or, when the
/// read fails, `unverified`.
async fn read_back(channel: &dyn StockOut, written: Vec<Write>, report: &mut PushReport) {
    let limit = channel.read_limit().max(1);
    for kind in [WriteKind::Variant, WriteKind::Product] {
        let writes: Vec<&Write> = written.iter().filter(|w| w.target.kind() == kind).collect();
        for chunk in writes.chunks(limit) {
            let ids: Vec<String> = chunk.iter().map(|w| w.target.id().to_owned()).collect();
            match channel.read(kind, &ids).await {
                Ok(levels) => {
                    for write in chunk {
                        let reported = levels.get(write.target.id()).copied();
                        let mut result = match reported {
                            Some(level) if level == write.level => {
                                outcome(write, SkuStatus::Ok, None)
                            }
                            Some(level) => outcome(
                                write,
                                SkuStatus::Mismatch,
                                Some(format!(
                                    "sent {}, the store now shows {level}: an order placed or \
                                     a change made in the store since; the next push after \
                                     the next order import corrects it",
                                    write.level
                                )),
                            ),
                            None => outcome(
                                write,
                                SkuStatus::Mismatch,
                                Some(format!(
                                    "sent {}, but the store no longer lists this {}; sync the \
                                     catalog",
                                    write.level,
                                    kind.as_str()
                                )),
                            ),
                        };
                        result.reported = reported;
                        report.outcomes.push(result);
                    }
                }
                Err(error) => {
                    let text = error.to_string();
                    for write in chunk {
                        report.outcomes.push(outcome(
                            write,
                            SkuStatus::Unverified,
                            Some(format!(
                                "written, but reading it back failed ({text}); the next push \
                                 sends it again"
                            )),
                        ));
                    }
                    report.aborted.get_or_insert(text);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::channel::{ChannelError, ErrorKind, Target};

    /// A channel that refuses the SKUs listed in `refuse` (one round per entry, as a store that
    /// validates in phases would), a batch containing `opaque` without naming it, and fails
    /// any batch containing `broken`.
    #[derive(Default)]
    struct Fake {
        refuse: Vec<Vec<&'static str>>,
        opaque: Option<&'static str>,
        broken: Option<&'static str>,
        batches: Mutex<Vec<Vec<String>>>,
    }

    #[async_trait]
    impl StockOut for Fake {
        fn batch_limit(&self, kind: WriteKind) -> usize {
            match kind {
                WriteKind::Variant => 3,
                WriteKind::Product => 2,
            }
        }
        fn read_limit(&self) -> usize {
            250
        }
        async fn write(&self, _: WriteKind, items: &[Write]) -> Result<WriteOutcome, ChannelError> {
            let skus: Vec<String> = items.iter().map(|w| w.sku.clone()).collect();
            let round = self
                .batches
                .lock()
                .unwrap()
                .iter()
                .filter(|b| b.iter().any(|s| skus.contains(s)))
                .count();
            self.batches.lock().unwrap().push(skus.clone());
            if self.broken.is_some_and(|b| skus.iter().any(|s| s == b)) {
                return Err(ChannelError::new(
                    "Fake",
                    ErrorKind::Unavailable,
                    std::io::Error::other("store unreachable"),
                ));
            }
            if self.opaque.is_some_and(|o| skus.iter().any(|s| s == o)) {
                return Ok(WriteOutcome::Rejected {
                    items: Vec::new(),
                    message: "JSON data is missing or invalid".into(),
                });
            }
            let refused: Vec<(usize, String)> = self
                .refuse
                .get(round)
                .map(|round| {
                    skus.iter()
                        .enumerate()
                        .filter(|(_, s)| round.contains(&s.as_str()))
                        .map(|(i, s)| (i, format!("{s} is bad")))
                        .collect()
                })
                .unwrap_or_default();
            if refused.is_empty() {
                Ok(WriteOutcome::Applied)
            } else {
                Ok(WriteOutcome::Rejected {
                    items: refused,
                    message: "invalid".into(),
                })
            }
        }
        async fn read(
            &self,
            _: WriteKind,
            _: &[String],
        ) -> Result<HashMap<String, i64>, ChannelError> {
            Ok(HashMap::new())
        }
    }

    fn writes(kind: WriteKind, skus: &[&str]) -> Vec<Write> {
        skus.iter()
            .enumerate()
            .map(|(i, sku)| Write {
                sku: sku.to_string(),
                target: match kind {
                    WriteKind::Variant => Target::Variant {
                        product_id: "1".into(),
                        variant_id: (i + 1).to_string(),
                    },
                    WriteKind::Product => Target::Product {
                        product_id: (i + 1).to_string(),
                    },
                },
                level: 1,
                reported: None,
            })
            .collect()
    }

    async fn run(fake: &Fake, kind: WriteKind, skus: &[&str]) -> (Vec<Write>, PushReport) {
        let mut written = Vec::new();
        let mut report = PushReport::default();
        write_kind(fake, kind, writes(kind, skus), &mut written, &mut report).await;
        (written, report)
    }

    fn status(report: &PushReport, sku: &str) -> SkuStatus {
        report
            .outcomes
            .iter()
            .find(|o| o.sku == sku)
            .map(|o| o.status)
            .unwrap_or_else(|| panic!("no outcome for {sku}"))
    }

    #[tokio::test]
    async fn batches_are_full_and_named_items_are_dropped_round_after_round() {
        let fake = Fake {
            refuse: vec![vec!["A", "B"], vec!["C"]],
            ..Fake::default()
        };
        let (written, report) = run(&fake, WriteKind::Variant, &["A", "B", "C", "D", "E"]).await;
        let batches = fake.batches.lock().unwrap().clone();
        // [A B C] refused A and B; [C] refused C in a second validation round; [D E].
        assert_eq!(
            batches,
            vec![vec!["A", "B", "C"], vec!["C"], vec!["D", "E"]]
                .into_iter()
                .map(|b| b.into_iter().map(String::from).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        );
        let written: Vec<&str> = written.iter().map(|w| w.sku.as_str()).collect();
        assert_eq!(written, vec!["D", "E"]);
        for sku in ["A", "B", "C"] {
            assert_eq!(status(&report, sku), SkuStatus::Rejected);
        }
        assert!(report.aborted.is_none());
    }

    #[tokio::test]
    async fn a_rejection_naming_no_item_fails_its_batch_only() {
        let fake = Fake {
            opaque: Some("B"),
            ..Fake::default()
        };
        let (written, report) = run(&fake, WriteKind::Product, &["A", "B", "C"]).await;
        assert_eq!(status(&report, "A"), SkuStatus::Failed);
        assert_eq!(status(&report, "B"), SkuStatus::Failed);
        assert_eq!(written.len(), 1, "the next batch [C] is written");
        assert!(report.outcomes[0]
            .message
            .as_deref()
            .unwrap()
            .contains("without naming an item"));
    }

    #[tokio::test]
    async fn an_error_stops_the_push_and_every_unsent_sku_is_reported() {
        let fake = Fake {
            broken: Some("D"),
            ..Fake::default()
        };
        let (written, report) =
            run(&fake, WriteKind::Product, &["A", "B", "C", "D", "E", "F"]).await;
        assert_eq!(written.len(), 2, "[A B] went through");
        for sku in ["C", "D", "E", "F"] {
            assert_eq!(status(&report, sku), SkuStatus::Failed, "{sku}");
        }
        assert_eq!(fake.batches.lock().unwrap().len(), 2, "[E F] was not sent");
        assert_eq!(report.aborted.as_deref(), Some("store unreachable"));
    }
}

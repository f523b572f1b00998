//! What the registry shows of a pipeline itself; its members show their own stats.

use crate::PolicyKind;

/// A [`Pipeline`](super::Pipeline)'s own state, read with
/// [`Pipeline::stats`](super::Pipeline::stats). Its members count their calls themselves, each
/// in its own row of the registry, under the pipeline's name.
///
/// ```
/// use resilience::{Pipeline, PolicyKind};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let empty = Pipeline::builder("doc-pipeline-stats").build().unwrap();
/// let _ = empty.execute(|| async { Ok::<_, std::io::Error>(()) }).await;
/// let stats = empty.stats();
/// assert!(stats.members.is_empty());
/// assert_eq!(stats.unprotected_calls, 1);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct PipelineStats {
    /// The kinds of its members now, outermost first.
    pub members: Vec<PolicyKind>,
    /// Calls that ran while it had no member at all, unprotected: those of a composite called
    /// by name before anything defined it.
    pub unprotected_calls: u64,
}

//! The knowledge service as a listener of the change bus.

use super::KnowledgeService;

/// Forgets the search index of a changed knowledge base or document (and the document's
/// title), or every index of a changed organization.
impl crate::change::ChangeListener for KnowledgeService {
    fn on_change(&self, change: &crate::change::Change) {
        use crate::change::Change;
        match *change {
            Change::KnowledgeBase { kb, .. } => self.forget_index(kb),
            Change::Document { kb, doc, .. } => {
                self.forget_index(kb);
                self.forget_title(doc);
            }
            Change::Organization { org } => {
                self.invalidations.invalidate_all();
                self.indexes.forget_organization(org);
            }
            _ => {}
        }
    }
}

//! The engine as a listener of the change bus.

use super::Engine;

/// Forgets the snapshot of a changed bot, or every bot of a changed organization.
impl crate::change::ChangeListener for Engine {
    fn on_change(&self, change: &crate::change::Change) {
        use crate::change::Change;
        match *change {
            Change::Bot { bot, .. } => self.invalidate_bot(bot),
            Change::Organization { org } => self.invalidate_org(org),
            _ => {}
        }
    }
}

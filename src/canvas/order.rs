//! Sort positions that keep the client's order of nodes and edges while rewriting as few rows as
//! possible.
//!
//! Positions are spaced [`GAP`] apart. When a save keeps the relative order of the items that
//! already exist, they keep their positions and new items take free positions between their
//! neighbours (or after the last one); only when the order changes, or no room is left between two
//! neighbours, are all items renumbered.

/// Distance between fresh positions: room for many later insertions between two items.
pub const GAP: i64 = 1 << 16;

/// Positions for items in client order, given each item's stored position (`None` when new).
pub fn assign_positions(stored: &[Option<i64>]) -> Vec<i64> {
    keep_stored(stored).unwrap_or_else(|| (1..=stored.len() as i64).map(|i| i * GAP).collect())
}

/// Keeps every stored position, fitting new items between; `None` when that is impossible.
fn keep_stored(stored: &[Option<i64>]) -> Option<Vec<i64>> {
    let mut positions = Vec::with_capacity(stored.len());
    let mut previous = 0_i64;
    let mut i = 0;
    while i < stored.len() {
        if let Some(position) = stored[i] {
            if position <= previous {
                return None;
            }
            positions.push(position);
            previous = position;
            i += 1;
            continue;
        }
        // A run of new items, up to the next stored one (or the end).
        let end = stored[i..]
            .iter()
            .position(Option::is_some)
            .map_or(stored.len(), |offset| i + offset);
        let count = (end - i) as i64;
        let step = match stored.get(end).copied().flatten() {
            Some(next) => {
                let room = next.checked_sub(previous)?;
                if room <= count {
                    return None;
                }
                room / (count + 1)
            }
            None => GAP,
        };
        for k in 1..=count {
            positions.push(previous.checked_add(step.checked_mul(k)?)?);
        }
        previous = *positions.last()?;
        i = end;
    }
    Some(positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_items_are_spaced_by_the_gap() {
        assert_eq!(
            assign_positions(&[None, None, None]),
            vec![GAP, 2 * GAP, 3 * GAP]
        );
    }

    #[test]
    fn unchanged_order_keeps_every_position() {
        let stored = [Some(GAP), Some(2 * GAP), Some(3 * GAP)];
        assert_eq!(assign_positions(&stored), vec![GAP, 2 * GAP, 3 * GAP]);
    }

    #[test]
    fn deleting_an_item_moves_no_other() {
        assert_eq!(
            assign_positions(&[Some(GAP), Some(3 * GAP)]),
            vec![GAP, 3 * GAP]
        );
    }

    #[test]
    fn appended_items_go_after_the_last() {
        assert_eq!(
            assign_positions(&[Some(5), Some(9), None, None]),
            vec![5, 9, 9 + GAP, 9 + 2 * GAP]
        );
    }

    #[test]
    fn inserted_items_fit_between_their_neighbours() {
        let positions = assign_positions(&[Some(GAP), None, None, Some(2 * GAP)]);
        assert_eq!(positions[0], GAP);
        assert_eq!(positions[3], 2 * GAP);
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    }

    #[test]
    fn inserted_items_before_the_first_fit_above_zero() {
        let positions = assign_positions(&[None, Some(GAP)]);
        assert!(positions[0] > 0 && positions[0] < GAP);
    }

    #[test]
    fn a_changed_order_renumbers_everything() {
        assert_eq!(
            assign_positions(&[Some(2 * GAP), Some(GAP)]),
            vec![GAP, 2 * GAP]
        );
    }

    #[test]
    fn no_room_between_neighbours_renumbers_everything() {
        assert_eq!(
            assign_positions(&[Some(1), None, Some(2)]),
            vec![GAP, 2 * GAP, 3 * GAP]
        );
    }
}

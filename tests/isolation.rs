//! Isolation: a workshop whose ERP hangs, whose browser keeps crashing and
//! which gets a flood of orders does not keep another workshop of the same
//! host from booking, and loses none of its own orders. How much slower the
//! quiet workshop gets is measured, not asserted: `cargo bench --bench
//! isolation`.

use oilmat_testkit::isolation::{Neighbours, CASE};
use oilmat_testkit::order_status;

#[test]
fn a_troubled_neighbour_does_not_stop_a_workshop() {
    let n = Neighbours::start();
    // Both browsers up before the trouble starts.
    Neighbours::book_batch(n.quiet_port, "warm", 1);
    Neighbours::book_batch(n.noisy_port, "warm", 1);

    // The neighbour's ERP hangs, its browser keeps being killed, it is flooded.
    let trouble = n.trouble();
    let (quiet_ids, _) = Neighbours::book_batch(n.quiet_port, "troubled", 4);
    let flooded = trouble.stop();

    // The quiet workshop's orders are all booked, each exactly once.
    for id in &quiet_ids {
        assert_eq!(n.quiet_erp.lines_for(CASE, id), 1, "{id} booked once");
    }
    assert_eq!(n.quiet_erp.lines(CASE).len(), 1 + quiet_ids.len());

    // The flood is queued, not lost: every flooded order was acknowledged
    // (checked as it was sent) and the neighbour knows each of them.
    assert!(!flooded.is_empty());
    for id in &flooded {
        let status = order_status(n.noisy_port, id);
        assert!(
            status["status"].is_string(),
            "flooded order {id} lost: {status}"
        );
    }
    let noisy = n.host.integration("noisy");
    assert!(
        noisy["queue"]["task"].as_u64().unwrap_or(0) > 0,
        "the flood is queued: {noisy}"
    );
}

//! Isolation: how much slower a quiet workshop books 4 orders while its
//! neighbour under the same host is in trouble (its ERP hangs, its
//! chromedriver is killed every 300 ms, it gets a flood of up to 1,500
//! orders), against the time alone; limit 3x. The isolation test checks only
//! that the quiet workshop's orders complete and the flood is kept: a timed
//! assertion fails whenever the machine is busy.
//!
//! `cargo bench --bench isolation [-- --orders N]`

use oilmat_testkit as kit;
use oilmat_testkit::isolation::Neighbours;

const LIMIT: f64 = 3.0;

fn main() {
    let n = kit::num("--orders", 4) as usize;
    println!("isolation benchmark on {}", kit::machine());
    let rig = Neighbours::start();
    Neighbours::book_batch(rig.quiet_port, "warm", 1);
    Neighbours::book_batch(rig.noisy_port, "warm", 1);
    let (_, alone) = Neighbours::book_batch(rig.quiet_port, "alone", n);
    let trouble = rig.trouble();
    let (_, troubled) = Neighbours::book_batch(rig.quiet_port, "troubled", n);
    let flooded = trouble.stop();
    let noisy = rig.host.integration("noisy");
    let ratio = troubled.as_secs_f64() / alone.as_secs_f64();
    println!();
    println!("quiet workshop, {n} orders | seconds | vs alone | limit {LIMIT}x");
    println!("alone | {:.3} | 1.00x |", alone.as_secs_f64());
    println!(
        "beside a hung, crashing, flooded neighbour | {:.3} | {ratio:.2}x | {}",
        troubled.as_secs_f64(),
        if ratio <= LIMIT { "met" } else { "NOT met" }
    );
    println!(
        "the neighbour: {} orders flooded, all acknowledged; {} in its task queue at the end",
        flooded.len(),
        noisy["queue"]["task"]
    );
}

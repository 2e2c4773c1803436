//! Per-stage benchmarks (criterion): pack load+check+compile (the embedded pack, and 500
//! generated rules), reading (bytes → records), converting (JSONL line / CSV row → the schema's
//! slots) and evaluating single rules on a prepared record. The hand-written serde baseline of
//! the throughput bench is measured on the same records for reference.
//!
//! Run: `cargo bench --bench stages` (about two minutes on 2 cores).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/gen.rs"]
mod generator;
#[path = "common/hand.rs"]
mod hand;

/// The allocator of the `beian` binary (src/main.rs), so baselines and engine are measured alike.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use beian::input::{self, EncodingChoice, Format};
use beian::load::PackFile;
use beian::pack::{load_files, load_program, PackSource};
use beian::program::Program;
use beian::scan;
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Records per batch in the read/convert benchmarks.
const BATCH: usize = 2000;

// ------------------------------------------------------------------ 500 generated rules

/// The tables the generated rules use (every table of a pack must be used).
const GEN_TABLES: &[&str] = &[
    "order_types",
    "mainland_ips",
    "id_types",
    "approved_tlds",
    "company_words",
    "provinces",
    "calendar",
    "ram_actions",
];

const SEVERITIES: &[&str] = &["info", "warning", "error", "critical"];
const ABBRS: &[&str] = &["京", "沪", "粤", "浙", "鄂", "苏", "川", "蜀"];
const NATURES: &[&str] = &["个人", "企业", "事业单位"];
const CONTENTS: &[&str] = &["单位门户网站", "综合门户", "博客/个人空间"];

/// One rule from template `i % 16`, varied by `i`.
fn gen_rule(i: usize) -> String {
    let k = 3 + (i * 7) % 90;
    let sev = SEVERITIES[i % SEVERITIES.len()];
    let abbr = ABBRS[i % ABBRS.len()];
    let nature = NATURES[i % NATURES.len()];
    let content = CONTENTS[i % CONTENTS.len()];
    let field = if i % 2 == 0 {
        "subject.leader_mobile"
    } else {
        "website.leader_mobile"
    };
    let (category, body) = match i % 16 {
        0 => (
            "gen_orders",
            format!(
                "    let:\n      age: days_between(order.created, as_of)\n    applies_if: tables.order_types[order.type].overdue_cleanup == true and (order.status ?? '') != '已完成'\n    when: not (order.submitted ?? false) and age > {k}\n    message: \"订单 {{order.id}} 已创建 {{age}} 天（阈值 {k}）\"\n    deadline: order.created + days({k})\n"
            ),
        ),
        1 => (
            "gen_domains",
            format!(
                "    for_each: d in domain_facts\n    when: d.expiry < as_of + days({k})\n    message: \"域名 {{d.name}} 将于 {{d.expiry}} 到期\"\n    deadline: d.expiry\n"
            ),
        ),
        2 => (
            "gen_access",
            "    for_each: a in ips\n    applies_if: (website.status ?? '') in ['正常', '需更新']\n    when: a not in tables.mainland_ips and not is_private(a)\n    message: \"网站 {website.name} 解析到 {a}\"\n".to_string(),
        ),
        3 => (
            "gen_ids",
            format!(
                "    applies_if: tables.id_types[subject.id_type].check == 'uscc' and subject.id_no != null\n    when: not valid_uscc(upper(trim(subject.id_no))) or len(subject.id_no) > {}\n    message: \"证件号码 {{subject.id_no}} 无效\"\n",
                18 + i % 3
            ),
        ),
        4 => (
            "gen_contacts",
            format!(
                "    let:\n      m: \"capture(replace(trim({field}), ' ', ''), '^(?:[+]86)?(.*)$', 1)\"\n    when: not valid_cn_mobile(m)\n    message: \"手机号码「{{{field}}}」无效（规则 {i}）\"\n"
            ),
        ),
        5 => (
            "gen_domains",
            "    for_each: d in domain_facts\n    when: tld(d.name) not in tables.approved_tlds and not is_idn(d.name)\n    message: \"域名 {d.name} 的后缀 .{tld(d.name)} 未批复\"\n".to_string(),
        ),
        6 => (
            "gen_content",
            format!(
                "    applies_if: subject.nature == '{nature}'\n    when: tables.company_words.exists(w, contains(website.name ?? '', w)) or website.content_type == '{content}'\n    message: \"{nature}备案的网站 {{website.name}} 内容为 {{website.content_type ?? '未填写'}}\"\n"
            ),
        ),
        7 => (
            "gen_provinces",
            format!(
                "    for_each: d in domain_facts\n    let:\n      prov: subject.province ?? icp_province(website.filing_no)\n      need: tables.provinces[prov].min_domain_validity_days ?? 90\n    when: days_between(as_of, d.expiry) < need + {k}\n    message: \"{{tables.provinces[prov].name ?? prov}}要求域名有效期 {{need}} 天：{{d.name}}\"\n    deadline: d.expiry\n"
            ),
        ),
        8 => (
            "gen_contacts",
            format!(
                "    applies_if: subject.landline != null\n    when: \"not matches(trim(subject.landline), '^0[0-9]{{2,3}}-[0-9]{{{},8}}$')\"\n    message: \"固定电话 {{subject.landline}} 格式不正确\"\n",
                6 + i % 2
            ),
        ),
        9 => (
            "gen_audit",
            format!(
                "    let:\n      dl: \"audit.extension_approved == true and audit.extended_deadline != null ? audit.extended_deadline : audit.rectify_deadline\"\n    applies_if: dl != null\n    when: as_of > dl + days({}) and not (audit.rectified ?? false)\n    message: \"整改期 {{dl}} 已过（{{join(audit.items, '；') ?? '问题见通知'}}）\"\n    deadline: dl\n",
                k % 10
            ),
        ),
        10 => (
            "gen_lists",
            format!(
                "    when: len(website.domains) > {} or len(ips) > {}\n    message: \"网站 {{website.name}} 有 {{len(website.domains)}} 个域名\"\n",
                1 + i % 3,
                1 + i % 4
            ),
        ),
        11 => (
            "gen_workdays",
            format!(
                "    applies_if: order.created != null\n    when: add_workdays(order.created, {k}) < as_of and (order.status ?? '') in ['阿里云审核中', '管局审核中']\n    message: \"订单 {{order.id}} 审核超过 {k} 个工作日\"\n    deadline: add_workdays(order.created, {k})\n"
            ),
        ),
        12 => (
            "gen_ram",
            "    for_each: op in operations\n    applies_if: op.actor == 'ram'\n    when: op.type in tables.ram_actions and not (tables.ram_actions[op.type] in op.ram_actions)\n    message: \"RAM 用户 {op.actor_name} 执行 {op.type}\"\n".to_string(),
        ),
        13 => (
            "gen_strings",
            format!(
                "    when: starts_with(website.filing_no ?? '', '{abbr}') and not ends_with(website.filing_no ?? '', '-1') and len(website.name ?? '') > {}\n    message: \"{abbr} 网站 {{website.filing_no}}：{{website.name}}\"\n",
                2 + i % 6
            ),
        ),
        14 => (
            "gen_dates",
            format!(
                "    when: add_months(website.approved_at, {}) < as_of and website.status == '需更新'\n    message: \"网站 {{website.filing_no}} 于 {{website.approved_at}} 通过备案\"\n    deadline: add_months(website.approved_at, {})\n",
                12 + i % 48,
                12 + i % 48
            ),
        ),
        _ => (
            "gen_macros",
            format!(
                "    when: len(website.domains.filter(x, is_idn(x))) > 0 and subject.nature == '{nature}'\n    message: \"{nature}备案使用中文域名：{{join(website.domains, '、')}}\"\n"
            ),
        ),
    };
    let mut s = String::new();
    let _ = write!(
        s,
        "  - id: GEN-{i:03}\n    title: 生成规则 {i}（{category}）\n    category: {category}\n    severity: {sev}\n{body}    remedy: 基准测试生成的规则。\n    tests:\n      - name: 空记录\n        record: {{}}\n        expect: []\n\n"
    );
    s
}

/// A directory pack of `n` generated rules over the default pack's schema and tables, as the
/// files `load_files` takes (rules split into files of 100).
fn generated_pack(n: usize) -> Vec<PackFile> {
    let rules_dir = root().join("rules");
    let read = |rel: &str| std::fs::read_to_string(rules_dir.join(rel)).unwrap();
    let mut files = vec![PackFile {
        display: "gen/pack.yaml".into(),
        rel: "pack.yaml".into(),
        text: read("pack.yaml"),
    }];
    for t in GEN_TABLES {
        let rel = format!("tables/{t}.yaml");
        files.push(PackFile {
            display: format!("gen/{rel}"),
            text: read(&rel),
            rel,
        });
    }
    for (f, start) in (0..n).step_by(100).enumerate() {
        let mut text = String::from("rules:\n");
        for i in start..(start + 100).min(n) {
            text.push_str(&gen_rule(i));
        }
        let rel = format!("gen_{f:02}.yaml");
        files.push(PackFile {
            display: format!("gen/{rel}"),
            rel,
            text,
        });
    }
    files
}

fn clone_files(files: &[PackFile]) -> Vec<PackFile> {
    files
        .iter()
        .map(|f| PackFile {
            display: f.display.clone(),
            rel: f.rel.clone(),
            text: f.text.clone(),
        })
        .collect()
}

fn bench_packs(c: &mut Criterion) {
    let files = generated_pack(500);
    let loaded = load_files(clone_files(&files));
    let errors: Vec<String> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{d:?}"))
        .collect();
    assert!(
        errors.is_empty(),
        "generated pack does not check: {errors:#?}"
    );
    let program = loaded.program.expect("program");
    assert_eq!(program.rules.len(), 500);

    let mut g = c.benchmark_group("pack");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("embedded: load+check+compile", |b| {
        b.iter(|| black_box(load_program(PackSource::Embedded).ok()));
    });
    g.bench_function("500 generated rules: load+check+compile", |b| {
        b.iter_batched(
            || clone_files(&files),
            |f| black_box(load_files(f).program),
            criterion::BatchSize::LargeInput,
        );
    });
    g.finish();
}

// ---------------------------------------------------------------- read and convert

struct Prepared {
    jsonl: PathBuf,
    csv: PathBuf,
    lines: Vec<String>,
    rows: Vec<csv::ByteRecord>,
    headers: csv::ByteRecord,
}

fn prepare() -> Prepared {
    let dir = root().join("target").join("bench-data");
    let jsonl = dir.join(format!("stages-{BATCH}.jsonl"));
    let csv_path = dir.join(format!("stages-{BATCH}.csv"));
    generator::write_files(BATCH as u64, &jsonl, Some(&csv_path)).unwrap();
    let lines = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let mut rdr = csv::Reader::from_path(&csv_path).unwrap();
    let headers = rdr.byte_headers().unwrap().clone();
    let rows = rdr.byte_records().map(Result::unwrap).collect();
    Prepared {
        jsonl,
        csv: csv_path,
        lines,
        rows,
        headers,
    }
}

/// Reads a whole file into chunks (framing and, for CSV, cell splitting; no conversion).
fn read_chunks(path: &Path, format: Format, program: &Program) -> Vec<input::Chunk> {
    let mut r = input::open(
        &path.display().to_string(),
        format,
        EncodingChoice::Auto,
        &program.schema,
    )
    .unwrap();
    input::read_all(r.as_mut()).unwrap()
}

fn bench_read_convert(c: &mut Criterion, p: &Prepared) {
    let program = load_program(PackSource::Embedded).unwrap();
    let jsonl_chunks = read_chunks(&p.jsonl, Format::Jsonl, &program);
    let csv_chunks = read_chunks(&p.csv, Format::Csv, &program);
    let count = |chunks: &[input::Chunk]| chunks.iter().map(|c| c.records.len()).sum::<usize>();
    assert_eq!(count(&jsonl_chunks), BATCH);
    assert_eq!(count(&csv_chunks), BATCH);

    let mut g = c.benchmark_group("read");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("jsonl: file -> records (framing)", |b| {
        b.iter(|| black_box(read_chunks(&p.jsonl, Format::Jsonl, &program)));
    });
    g.bench_function("csv: file -> rows (framing, cells)", |b| {
        b.iter(|| black_box(read_chunks(&p.csv, Format::Csv, &program)));
    });
    g.finish();

    let mut g = c.benchmark_group("convert");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(BATCH as u64));
    let convert_all = |chunks: &[input::Chunk]| {
        let mut n = 0usize;
        for chunk in chunks {
            // a worker's state is kept across a chunk's records, as in a scan
            let mut w = scan::Worker::default();
            for raw in &chunk.records {
                if let Ok((_, rec, _)) = scan::convert(&program, chunk, raw, &mut w) {
                    n += rec.len();
                }
            }
        }
        n
    };
    g.bench_function("beian: jsonl line -> slots (scan::convert)", |b| {
        b.iter(|| black_box(convert_all(&jsonl_chunks)));
    });
    g.bench_function("beian: csv row -> slots (scan::convert)", |b| {
        b.iter(|| black_box(convert_all(&csv_chunks)));
    });
    g.bench_function("baseline: serde_json -> typed struct", |b| {
        b.iter(|| {
            for l in &p.lines {
                black_box(serde_json::from_str::<hand::Filing>(l).unwrap());
            }
        });
    });
    g.bench_function("baseline: csv + serde -> typed struct", |b| {
        b.iter(|| {
            for r in &p.rows {
                black_box(
                    r.deserialize::<hand::FlatRow>(Some(&p.headers))
                        .unwrap()
                        .into_filing(),
                );
            }
        });
    });
    g.finish();
}

// ---------------------------------------------------------------------- evaluation

/// The first generated record with an open 首次备案 order (every domain rule in scope), an
/// audit and a subject province: most rules get past `applies_if`.
fn sample_record(p: &Prepared) -> String {
    p.lines
        .iter()
        .find(|l| {
            l.contains("\"type\":\"首次备案\"") && l.contains("\"audit\":") && !l.contains("已完成")
        })
        .or_else(|| p.lines.first())
        .cloned()
        .unwrap()
}

/// Rules measured one by one (the ten of the throughput bench, plus PR-001).
const EVAL_RULES: [&str; 11] = [
    "OC-003", "DV-004", "DV-007", "SA-001", "SA-002", "SA-003", "SA-007", "SA-009", "AA-001",
    "PR-001", "PR-007",
];

fn bench_eval(c: &mut Criterion, p: &Prepared) {
    let program = load_program(PackSource::Embedded).unwrap();
    let as_of = generator::as_of();
    let all = scan::selected_rules(&program, as_of, &[], &[]);
    let ten: Vec<usize> = hand::RULE_IDS
        .iter()
        .filter_map(|id| program.rules.iter().position(|r| r.id == *id))
        .collect();
    let index = |id: &str| program.rules.iter().position(|r| r.id == id);
    let slots = |line: &str| {
        let json: serde_json::Value = serde_json::from_str(line).unwrap();
        input::convert::record_from_value(&json, &program.schema)
            .unwrap()
            .0
    };
    let tables = hand::Tables::load(&root().join("benches").join("ten_rules").join("tables"));

    // one prepared record on which most rules get past `applies_if`
    let line = sample_record(p);
    let record = slots(&line);
    let filing: hand::Filing = serde_json::from_str(&line).unwrap();
    let mut g = c.benchmark_group("evaluate one record");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for id in EVAL_RULES {
        let Some(ri) = index(id) else { continue };
        g.bench_with_input(BenchmarkId::new("rule", id), &ri, |b, &ri| {
            b.iter(|| black_box(beian::eval::evaluate(&program, &[ri], &record, as_of)));
        });
    }
    g.bench_function("ten rules (beian)", |b| {
        b.iter(|| black_box(beian::eval::evaluate(&program, &ten, &record, as_of)));
    });
    g.bench_function(format!("all {} active rules (beian)", all.len()), |b| {
        b.iter(|| black_box(beian::eval::evaluate(&program, &all, &record, as_of)));
    });
    g.bench_function("ten rules (hand-written)", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            hand::check(&filing, &tables, as_of, &mut out);
            black_box(out)
        });
    });
    g.finish();

    // every generated record: the average cost of a rule on realistic data
    let records: Vec<_> = p.lines.iter().map(|l| slots(l)).collect();
    let filings: Vec<hand::Filing> = p
        .lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut g = c.benchmark_group(format!("evaluate {BATCH} records"));
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(BATCH as u64));
    let run = |rules: &[usize]| {
        let mut n = 0;
        for r in &records {
            n += beian::eval::evaluate(&program, rules, r, as_of)
                .findings
                .len();
        }
        n
    };
    for id in EVAL_RULES {
        let Some(ri) = index(id) else { continue };
        g.bench_with_input(BenchmarkId::new("rule", id), &ri, |b, &ri| {
            b.iter(|| black_box(run(&[ri])));
        });
    }
    g.bench_function("ten rules (beian)", |b| b.iter(|| black_box(run(&ten))));
    g.bench_function(format!("all {} active rules (beian)", all.len()), |b| {
        b.iter(|| black_box(run(&all)));
    });
    g.bench_function("ten rules (hand-written)", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            for f in &filings {
                hand::check(f, &tables, as_of, &mut out);
            }
            black_box(out.len())
        });
    });
    g.finish();
}

fn stages(c: &mut Criterion) {
    bench_packs(c);
    let p = prepare();
    bench_read_convert(c, &p);
    bench_eval(c, &p);
}

criterion_group!(benches, stages);
criterion_main!(benches);

//! The ONNX decoder against an independent one, and against hostile bytes.
//!
//! `onnx-protobuf` (rust-protobuf, generated from the ONNX schema at IR 10) decodes the same bytes as
//! nnlint's hand-written prost schema; both must agree on everything the linter reads. Malformed
//! files must give one clear error sentence, never a panic.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use nnlint::ir::{Attr, DType, Dim, Graph, Model, TensorData, Weights};
use nnlint::load::LoadError;
use nnlint::load::onnx::{MAX_SUBGRAPH_DEPTH, decode_model_bytes, load_onnx, lower, proto};
use onnx_protobuf as ox;
use ox::attribute_proto::AttributeType as OxAttr;
use protobuf::{EnumOrUnknown, Message as _, MessageField};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const FLOAT: i32 = 1;
const INT64: i32 = 7;

// ---------------------------------------------------------------- building models with onnx-protobuf

enum D {
    V(i64),
    P(&'static str),
    Missing,
}

fn tensor_type(elem: i32, dims: Option<&[D]>) -> ox::TypeProto {
    let mut tensor = ox::type_proto::Tensor::new();
    tensor.elem_type = elem;
    if let Some(dims) = dims {
        let mut shape = ox::TensorShapeProto::new();
        for d in dims {
            let mut dim = ox::tensor_shape_proto::Dimension::new();
            dim.value = match d {
                D::V(v) => Some(ox::tensor_shape_proto::dimension::Value::DimValue(*v)),
                D::P(p) => Some(ox::tensor_shape_proto::dimension::Value::DimParam(
                    p.to_string(),
                )),
                D::Missing => None,
            };
            shape.dim.push(dim);
        }
        tensor.shape = MessageField::some(shape);
    }
    let mut t = ox::TypeProto::new();
    t.value = Some(ox::type_proto::Value::TensorType(tensor));
    t
}

fn value_info(name: &str, elem: i32, dims: Option<&[D]>) -> ox::ValueInfoProto {
    let mut v = ox::ValueInfoProto::new();
    v.name = name.into();
    v.type_ = MessageField::some(tensor_type(elem, dims));
    v
}

fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> ox::NodeProto {
    let mut n = ox::NodeProto::new();
    n.op_type = op.into();
    n.name = name.into();
    n.input = inputs.iter().map(|s| s.to_string()).collect();
    n.output = outputs.iter().map(|s| s.to_string()).collect();
    n
}

fn attr(name: &str, kind: OxAttr) -> ox::AttributeProto {
    let mut a = ox::AttributeProto::new();
    a.name = name.into();
    a.type_ = EnumOrUnknown::new(kind);
    a
}

fn attr_int(name: &str, v: i64) -> ox::AttributeProto {
    let mut a = attr(name, OxAttr::INT);
    a.i = v;
    a
}

fn attr_graph(name: &str, g: ox::GraphProto) -> ox::AttributeProto {
    let mut a = attr(name, OxAttr::GRAPH);
    a.g = MessageField::some(g);
    a
}

fn raw_f32(name: &str, dims: &[i64], values: &[f32]) -> ox::TensorProto {
    let mut t = ox::TensorProto::new();
    t.name = name.into();
    t.dims = dims.to_vec();
    t.data_type = FLOAT;
    t.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    t
}

fn model(graph: ox::GraphProto, opset: i64) -> ox::ModelProto {
    let mut m = ox::ModelProto::new();
    m.ir_version = 9;
    m.producer_name = "nnlint-tests".into();
    m.producer_version = "1.0".into();
    let mut o = ox::OperatorSetIdProto::new();
    o.domain = String::new();
    o.version = opset;
    m.opset_import.push(o);
    let mut ml = ox::OperatorSetIdProto::new();
    ml.domain = "ai.onnx.ml".into();
    ml.version = 3;
    m.opset_import.push(ml);
    m.graph = MessageField::some(graph);
    m
}

/// x[N,4] -> MatMul(W) -> Add(B) -> Softmax, with nodes stored out of order, a Constant, every plain
/// attribute kind, and declared shapes of every flavour.
fn mlp() -> ox::ModelProto {
    let mut g = ox::GraphProto::new();
    g.name = "mlp".into();
    g.input
        .push(value_info("x", FLOAT, Some(&[D::P("N"), D::V(4)])));
    g.input
        .push(value_info("W", FLOAT, Some(&[D::V(4), D::V(3)])));
    g.input.push(value_info(
        "aux",
        FLOAT,
        Some(&[D::V(-1), D::Missing, D::P("")]),
    ));
    g.output
        .push(value_info("probs", FLOAT, Some(&[D::P("N"), D::V(3)])));
    g.value_info
        .push(value_info("logits", FLOAT, Some(&[D::V(-1), D::Missing])));
    g.value_info.push(value_info("unused", FLOAT, None));
    g.initializer.push(raw_f32(
        "W",
        &[4, 3],
        &(0..12).map(|i| i as f32 * 0.5).collect::<Vec<_>>(),
    ));
    let mut b = ox::TensorProto::new();
    b.name = "B".into();
    b.dims = vec![3];
    b.data_type = FLOAT;
    b.float_data = vec![0.1, -0.2, f32::NAN];
    g.initializer.push(b);

    let mut softmax = node("Softmax", "softmax", &["logits"], &["probs"]);
    softmax.attribute.push(attr_int("axis", -1));
    let mut add = node("Add", "", &["mm", "B"], &["logits"]);
    let mut f = attr("alpha", OxAttr::FLOAT);
    f.f = 0.25;
    add.attribute.push(f);
    let mut s = attr("mode", OxAttr::STRING);
    s.s = b"constant".to_vec();
    add.attribute.push(s);
    let mut fs = attr("scales", OxAttr::FLOATS);
    fs.floats = vec![1.0, 2.5];
    add.attribute.push(fs);
    let mut is = attr("pads", OxAttr::INTS);
    is.ints = vec![0, 1, -1, i64::MAX];
    add.attribute.push(is);
    let mut ss = attr("names", OxAttr::STRINGS);
    ss.strings = vec![b"a".to_vec(), vec![0xff, 0xfe]];
    add.attribute.push(ss);
    let matmul = node("MatMul", "mm_node", &["x", "W"], &["mm"]);
    let mut constant = node("Constant", "shape_const", &[], &["shape"]);
    let mut ints = attr("value_ints", OxAttr::INTS);
    ints.ints = vec![-1, 3];
    constant.attribute.push(ints);
    let mut reshape = node("Reshape", "reshape", &["probs", "shape"], &["flat"]);
    reshape.attribute.push(attr_int("allowzero", 0));
    let mut tconst = node("Constant", "tconst", &[], &["tc"]);
    let mut tv = attr("value", OxAttr::TENSOR);
    tv.t = MessageField::some(raw_f32("", &[2], &[1.0, 2.0]));
    tconst.attribute.push(tv);
    // Dropout with an omitted optional input and an omitted (empty-named) first output.
    let dropout = node("Dropout", "dropout", &["tc", "", ""], &["", "mask"]);
    g.node = vec![softmax, add, matmul, constant, reshape, tconst, dropout];
    g.output.push(value_info("flat", FLOAT, None));
    g.output.push(value_info("mask", 9, Some(&[D::V(2)])));

    let mut m = model(g, 13);
    let mut meta = ox::StringStringEntryProto::new();
    meta.key = "author".into();
    meta.value = "tests".into();
    m.metadata_props.push(meta);
    m
}

/// An `If` whose branches read outer values, a `Loop` whose body holds another `If`, all listed
/// before the nodes producing what the subgraphs read.
fn with_subgraphs() -> ox::ModelProto {
    let mut then_g = ox::GraphProto::new();
    then_g.name = "then".into();
    then_g
        .node
        .push(node("Relu", "then_relu", &["h"], &["t_out"]));
    then_g.output.push(value_info("t_out", FLOAT, None));
    let mut else_g = ox::GraphProto::new();
    else_g.name = "else".into();
    else_g
        .node
        .push(node("Neg", "else_neg", &["x"], &["e_out"]));
    else_g.output.push(value_info("e_out", FLOAT, None));
    let mut if_node = node("If", "branch", &["cond"], &["y"]);
    if_node.attribute.push(attr_graph("then_branch", then_g));
    if_node.attribute.push(attr_graph("else_branch", else_g));

    let mut inner_then = ox::GraphProto::new();
    inner_then.name = "inner_then".into();
    inner_then
        .node
        .push(node("Add", "deep_add", &["acc", "h"], &["it_out"]));
    inner_then.output.push(value_info("it_out", FLOAT, None));
    let mut inner_else = ox::GraphProto::new();
    inner_else.name = "inner_else".into();
    inner_else.output.push(value_info("acc", FLOAT, None));
    let mut body = ox::GraphProto::new();
    body.name = "body".into();
    body.input.push(value_info("i", INT64, Some(&[])));
    body.input.push(value_info("c", 9, Some(&[])));
    body.input.push(value_info("acc", FLOAT, None));
    let mut inner_if = node("If", "inner_if", &["c"], &["acc_next"]);
    inner_if
        .attribute
        .push(attr_graph("then_branch", inner_then));
    inner_if
        .attribute
        .push(attr_graph("else_branch", inner_else));
    body.node.push(inner_if);
    body.node.push(node("Identity", "keep", &["c"], &["c_out"]));
    body.output.push(value_info("c_out", 9, None));
    body.output.push(value_info("acc_next", FLOAT, None));
    let mut loop_node = node("Loop", "loop", &["trip", "cond", "x"], &["acc_final"]);
    loop_node.attribute.push(attr_graph("body", body));

    let mut g = ox::GraphProto::new();
    g.name = "main".into();
    g.input.push(value_info("x", FLOAT, Some(&[D::V(2)])));
    g.input.push(value_info("cond", 9, Some(&[])));
    g.input.push(value_info("trip", INT64, Some(&[])));
    g.node = vec![
        loop_node,
        if_node,
        node("Sigmoid", "make_h", &["x"], &["h"]),
    ];
    g.output.push(value_info("y", FLOAT, None));
    g.output.push(value_info("acc_final", FLOAT, None));
    model(g, 17)
}

/// Initializers with every typed data field, external data, no data, and the remaining attribute
/// kinds (tensors, graphs, sparse tensors, type protos).
fn typed_data() -> ox::ModelProto {
    let mut g = ox::GraphProto::new();
    g.name = "typed".into();
    let mut i32s = ox::TensorProto::new();
    i32s.name = "i32s".into();
    i32s.data_type = 6;
    i32s.dims = vec![3];
    i32s.int32_data = vec![1, -2, 3];
    let mut i64s = ox::TensorProto::new();
    i64s.name = "i64s".into();
    i64s.data_type = INT64;
    i64s.dims = vec![2];
    i64s.int64_data = vec![i64::MIN, 5];
    let mut f64s = ox::TensorProto::new();
    f64s.name = "f64s".into();
    f64s.data_type = 11;
    f64s.dims = vec![1];
    f64s.double_data = vec![2.5];
    let mut u64s = ox::TensorProto::new();
    u64s.name = "u64s".into();
    u64s.data_type = 13;
    u64s.dims = vec![1];
    u64s.uint64_data = vec![u64::MAX];
    let mut strs = ox::TensorProto::new();
    strs.name = "strs".into();
    strs.data_type = 8;
    strs.dims = vec![2];
    strs.string_data = vec![b"x".to_vec(), b"yz".to_vec()];
    let mut ext = ox::TensorProto::new();
    ext.name = "ext".into();
    ext.data_type = FLOAT;
    ext.dims = vec![1000, 1000];
    ext.data_location = EnumOrUnknown::new(ox::tensor_proto::DataLocation::EXTERNAL);
    for (k, v) in [
        ("location", "weights.bin"),
        ("offset", "4096"),
        ("length", "4000000"),
    ] {
        let mut e = ox::StringStringEntryProto::new();
        e.key = k.into();
        e.value = v.into();
        ext.external_data.push(e);
    }
    let mut empty = ox::TensorProto::new();
    empty.name = "empty".into();
    empty.data_type = FLOAT;
    empty.dims = vec![0, 5];
    let mut fp8 = raw_f32("fp8", &[4], &[1.0]);
    fp8.data_type = 17;
    g.initializer = vec![i32s, i64s, f64s, u64s, strs, ext, empty, fp8];

    let mut n = node(
        "Custom",
        "custom",
        &["i32s", "i64s", "f64s", "u64s"],
        &["out"],
    );
    n.domain = "com.example".into();
    let mut tensors = attr("tensors", OxAttr::TENSORS);
    tensors.tensors = vec![raw_f32("a", &[1], &[1.0]), raw_f32("b", &[], &[2.0])];
    n.attribute.push(tensors);
    let mut graphs = attr("graphs", OxAttr::GRAPHS);
    let mut sub = ox::GraphProto::new();
    sub.name = "sub".into();
    sub.node.push(node("Identity", "id", &["strs"], &["s_out"]));
    sub.output.push(value_info("s_out", 8, None));
    graphs.graphs = vec![sub.clone(), sub];
    n.attribute.push(graphs);
    let mut sparse = attr("sparse", OxAttr::SPARSE_TENSOR);
    let mut sp = ox::SparseTensorProto::new();
    sp.values = MessageField::some(raw_f32("sv", &[1], &[3.0]));
    sp.dims = vec![10];
    sparse.sparse_tensor = MessageField::some(sp);
    n.attribute.push(sparse);
    let mut tp = attr("tp", OxAttr::TYPE_PROTO);
    tp.tp = MessageField::some(tensor_type(FLOAT, Some(&[D::V(1)])));
    n.attribute.push(tp);
    let mut tps = attr("tps", OxAttr::TYPE_PROTOS);
    tps.type_protos = vec![tensor_type(INT64, None)];
    n.attribute.push(tps);
    g.node.push(n);
    g.output.push(value_info("out", FLOAT, None));
    model(g, 21)
}

fn bytes_of(m: &ox::ModelProto) -> Vec<u8> {
    m.write_to_bytes().expect("serialize test model")
}

// ---------------------------------------------------------------- comparing the two decoders

fn compare_model(a: &ox::ModelProto, b: &proto::ModelProto, at: &str) {
    assert_eq!(a.ir_version, b.ir_version, "{at}: ir_version");
    assert_eq!(a.producer_name, b.producer_name, "{at}: producer_name");
    assert_eq!(a.producer_version, b.producer_version, "{at}");
    let opsets_a: Vec<_> = a
        .opset_import
        .iter()
        .map(|o| (o.domain.clone(), o.version))
        .collect();
    let opsets_b: Vec<_> = b
        .opset_import
        .iter()
        .map(|o| (o.domain.clone(), o.version))
        .collect();
    assert_eq!(opsets_a, opsets_b, "{at}: opset imports");
    let meta_a: Vec<_> = a
        .metadata_props
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    let meta_b: Vec<_> = b
        .metadata_props
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    assert_eq!(meta_a, meta_b, "{at}: metadata");
    assert_eq!(a.functions.len(), b.functions.len(), "{at}: functions");
    for (fa, fb) in a.functions.iter().zip(&b.functions) {
        assert_eq!(fa.name, fb.name, "{at}: function name");
        assert_eq!(fa.input, fb.input, "{at}: function inputs");
        assert_eq!(fa.output, fb.output, "{at}: function outputs");
        assert_eq!(fa.node.len(), fb.node.len(), "{at}: function nodes");
        for (na, nb) in fa.node.iter().zip(&fb.node) {
            compare_node(na, nb, &format!("{at}/fn:{}", fa.name));
        }
    }
    assert_eq!(a.training_info.len(), b.training_info.len(), "{at}");
    assert_eq!(a.graph.is_some(), b.graph.is_some(), "{at}: graph presence");
    if let (Some(ga), Some(gb)) = (a.graph.as_ref(), b.graph.as_ref()) {
        compare_graph(ga, gb, at);
    }
}

fn compare_graph(a: &ox::GraphProto, b: &proto::GraphProto, at: &str) {
    let at = format!("{at}/{}", a.name);
    assert_eq!(a.name, b.name, "{at}: graph name");
    let names = |v: &[ox::ValueInfoProto]| v.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
    let our_names =
        |v: &[proto::ValueInfoProto]| v.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a.input), our_names(&b.input), "{at}: inputs");
    assert_eq!(names(&a.output), our_names(&b.output), "{at}: outputs");
    assert_eq!(names(&a.value_info), our_names(&b.value_info), "{at}");
    for (va, vb) in a
        .input
        .iter()
        .chain(&a.output)
        .chain(&a.value_info)
        .zip(b.input.iter().chain(&b.output).chain(&b.value_info))
    {
        compare_type(
            va.type_.as_ref(),
            vb.r#type.as_ref(),
            &format!("{at}:{}", va.name),
        );
    }
    assert_eq!(
        a.initializer.len(),
        b.initializer.len(),
        "{at}: initializers"
    );
    for (ta, tb) in a.initializer.iter().zip(&b.initializer) {
        compare_tensor(ta, tb, &at);
    }
    assert_eq!(
        a.sparse_initializer.len(),
        b.sparse_initializer.len(),
        "{at}: sparse initializers"
    );
    assert_eq!(a.node.len(), b.node.len(), "{at}: node count");
    for (na, nb) in a.node.iter().zip(&b.node) {
        compare_node(na, nb, &at);
    }
}

fn compare_type(a: Option<&ox::TypeProto>, b: Option<&proto::TypeProto>, at: &str) {
    assert_eq!(a.is_some(), b.is_some(), "{at}: type presence");
    let (Some(a), Some(b)) = (a, b) else { return };
    match (&a.value, &b.value) {
        (
            Some(ox::type_proto::Value::TensorType(ta)),
            Some(proto::type_proto::Value::TensorType(tb)),
        ) => {
            assert_eq!(ta.elem_type, tb.elem_type, "{at}: elem_type");
            assert_eq!(ta.shape.is_some(), tb.shape.is_some(), "{at}: shape presence");
            if let (Some(sa), Some(sb)) = (ta.shape.as_ref(), tb.shape.as_ref()) {
                let dims_a: Vec<String> = sa.dim.iter().map(|d| format!("{:?}", d.value)).collect();
                let dims_b: Vec<String> = sb
                    .dim
                    .iter()
                    .map(|d| match &d.value {
                        None => "None".to_string(),
                        Some(proto::tensor_shape_proto::dimension::Value::DimValue(v)) => {
                            format!("Some(DimValue({v}))")
                        }
                        Some(proto::tensor_shape_proto::dimension::Value::DimParam(p)) => {
                            format!("Some(DimParam({p:?}))")
                        }
                    })
                    .collect();
                assert_eq!(dims_a, dims_b, "{at}: dims");
            }
        }
        (Some(ox::type_proto::Value::SequenceType(_)), Some(proto::type_proto::Value::SequenceType(_)))
        | (Some(ox::type_proto::Value::MapType(_)), Some(proto::type_proto::Value::MapType(_)))
        | (
            Some(ox::type_proto::Value::OptionalType(_)),
            Some(proto::type_proto::Value::OptionalType(_)),
        )
        | (
            Some(ox::type_proto::Value::SparseTensorType(_)),
            Some(proto::type_proto::Value::SparseTensorType(_)),
        )
        | (None, None)
        // onnx-protobuf (IR 10) has no opaque type; it keeps field 7 as an unknown field.
        | (None, Some(proto::type_proto::Value::OpaqueType(_))) => {}
        (x, y) => panic!("{at}: type kinds differ: {x:?} vs {y:?}"),
    }
}

fn compare_tensor(a: &ox::TensorProto, b: &proto::TensorProto, at: &str) {
    let at = format!("{at}:tensor {}", a.name);
    assert_eq!(a.name, b.name, "{at}: name");
    assert_eq!(a.dims, b.dims, "{at}: dims");
    assert_eq!(a.data_type, b.data_type, "{at}: data_type");
    assert_eq!(
        a.raw_data,
        b.raw_data.as_deref().unwrap_or_default(),
        "{at}: raw_data"
    );
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a.float_data), bits(&b.float_data), "{at}: float_data");
    let bits64 = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits64(&a.double_data), bits64(&b.double_data), "{at}");
    assert_eq!(a.int32_data, b.int32_data, "{at}: int32_data");
    assert_eq!(a.int64_data, b.int64_data, "{at}: int64_data");
    assert_eq!(a.uint64_data, b.uint64_data, "{at}: uint64_data");
    let strings: Vec<&[u8]> = b.string_data.iter().map(|s| &s[..]).collect();
    let theirs: Vec<&[u8]> = a.string_data.iter().map(|s| &s[..]).collect();
    assert_eq!(theirs, strings, "{at}: string_data");
    assert_eq!(
        a.data_location.value(),
        b.data_location,
        "{at}: data_location"
    );
    let ext_a: Vec<_> = a
        .external_data
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    let ext_b: Vec<_> = b
        .external_data
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    assert_eq!(ext_a, ext_b, "{at}: external_data");
}

fn compare_node(a: &ox::NodeProto, b: &proto::NodeProto, at: &str) {
    let at = format!("{at}/{}({})", a.name, a.op_type);
    assert_eq!(a.op_type, b.op_type, "{at}: op_type");
    assert_eq!(a.domain, b.domain, "{at}: domain");
    assert_eq!(a.name, b.name, "{at}: name");
    assert_eq!(a.input, b.input, "{at}: inputs");
    assert_eq!(a.output, b.output, "{at}: outputs");
    assert_eq!(
        a.attribute.len(),
        b.attribute.len(),
        "{at}: attribute count"
    );
    for (aa, ab) in a.attribute.iter().zip(&b.attribute) {
        let at = format!("{at}.{}", aa.name);
        assert_eq!(aa.name, ab.name, "{at}: attribute name");
        assert_eq!(aa.type_.value(), ab.r#type, "{at}: attribute kind");
        assert_eq!(aa.ref_attr_name, ab.ref_attr_name, "{at}");
        assert_eq!(
            aa.f.to_bits(),
            ab.f.unwrap_or_default().to_bits(),
            "{at}: f"
        );
        assert_eq!(aa.i, ab.i.unwrap_or_default(), "{at}: i");
        assert_eq!(aa.s, ab.s.as_deref().unwrap_or_default(), "{at}: s");
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&aa.floats), bits(&ab.floats), "{at}: floats");
        assert_eq!(aa.ints, ab.ints, "{at}: ints");
        let ours: Vec<&[u8]> = ab.strings.iter().map(|s| &s[..]).collect();
        let theirs: Vec<&[u8]> = aa.strings.iter().map(|s| &s[..]).collect();
        assert_eq!(theirs, ours, "{at}: strings");
        assert_eq!(aa.t.is_some(), ab.t.is_some(), "{at}: t");
        if let (Some(ta), Some(tb)) = (aa.t.as_ref(), ab.t.as_ref()) {
            compare_tensor(ta, tb, &at);
        }
        assert_eq!(aa.tensors.len(), ab.tensors.len(), "{at}: tensors");
        for (ta, tb) in aa.tensors.iter().zip(&ab.tensors) {
            compare_tensor(ta, tb, &at);
        }
        assert_eq!(aa.g.is_some(), ab.g.is_some(), "{at}: g");
        if let (Some(ga), Some(gb)) = (aa.g.as_ref(), ab.g.as_ref()) {
            compare_graph(ga, gb, &at);
        }
        assert_eq!(aa.graphs.len(), ab.graphs.len(), "{at}: graphs");
        for (ga, gb) in aa.graphs.iter().zip(&ab.graphs) {
            compare_graph(ga, gb, &at);
        }
        assert_eq!(
            aa.sparse_tensor.is_some(),
            ab.sparse_tensor.is_some(),
            "{at}"
        );
        assert_eq!(aa.sparse_tensors.len(), ab.sparse_tensors.len(), "{at}");
        compare_type(aa.tp.as_ref(), ab.tp.as_deref(), &at);
        assert_eq!(aa.type_protos.len(), ab.type_protos.len(), "{at}");
    }
}

// ---------------------------------------------------------------- checking the lowering

/// Same op count as nodes, each original index exactly once, and every op's inputs produced
/// earlier; recursively for subgraphs.
fn check_lowered(graph: &Graph, nodes: &[proto::NodeProto], at: &str) {
    assert_eq!(graph.ops.len(), nodes.len(), "{at}: op count");
    let mut seen = vec![false; nodes.len()];
    for (position, op) in graph.ops.iter().enumerate() {
        let index = op.origin.index;
        assert!(!seen[index], "{at}: node {index} lowered twice");
        seen[index] = true;
        // A hand-written softmax's Div is rewritten to Softmax(z) (src/shape/handmade_softmax.rs).
        let handmade_softmax = op.op_type == "Softmax" && nodes[index].op_type == "Div";
        if !handmade_softmax {
            assert_eq!(
                op.op_type, nodes[index].op_type,
                "{at}: op type of node {index}"
            );
            assert_eq!(op.inputs.len(), nodes[index].input.len(), "{at}: inputs");
        }
        assert_eq!(op.outputs.len(), nodes[index].output.len(), "{at}: outputs");
        for input in op.inputs.iter().flatten() {
            if let Some(producer) = graph.value(*input).producer {
                assert!(
                    (producer.0 as usize) < position,
                    "{at}: op {position} ({}) reads a value produced later",
                    op.op_type
                );
            }
        }
        for out in &op.outputs {
            assert_eq!(
                graph.value(*out).producer.map(|p| p.0 as usize),
                Some(position)
            );
        }
        let node = &nodes[index];
        for a in &node.attribute {
            match (op.attrs.get(&a.name), a.g.as_ref()) {
                (Some(Attr::Graph(sub)), Some(g)) => {
                    check_lowered(sub, &g.node, &format!("{at}/{}", a.name))
                }
                (Some(Attr::Graphs(subs)), _) => {
                    for (sub, g) in subs.iter().zip(&a.graphs) {
                        check_lowered(sub, &g.node, &format!("{at}/{}", a.name));
                    }
                }
                _ => {}
            }
        }
    }
}

fn check_file_bytes(bytes: Vec<u8>, at: &str) {
    let theirs = ox::ModelProto::parse_from_bytes(&bytes)
        .unwrap_or_else(|e| panic!("{at}: onnx-protobuf cannot decode it: {e}"));
    let ours = decode_model_bytes(Bytes::from(bytes))
        .unwrap_or_else(|e| panic!("{at}: nnlint cannot decode it: {e}"));
    compare_model(&theirs, &ours, at);
    let lowered =
        lower(&ours, Path::new(at)).unwrap_or_else(|e| panic!("{at}: lowering failed: {e}"));
    let main = ours.graph.as_ref().expect("graph");
    // Calls of model-local functions are inlined before lowering.
    let inlined = nnlint::load::onnx::functions::inline(&ours, main);
    check_lowered(&lowered.graph, &inlined.as_ref().unwrap_or(main).node, at);
}

fn onnx_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            // fixtures/malformed/ holds broken files on purpose (tests/malformed.rs).
            .is_some_and(|n| n.to_string_lossy().starts_with('.') || n == "malformed");
        if hidden {
            continue;
        }
        if path.is_dir() {
            onnx_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "onnx") {
            out.push(path);
        }
    }
}

fn lowered(m: &ox::ModelProto) -> Model {
    let ours = decode_model_bytes(Bytes::from(bytes_of(m))).expect("decode");
    lower(&ours, Path::new("models/test.onnx")).expect("lower")
}

#[test]
fn built_models_agree_with_onnx_protobuf() {
    for (name, m) in [
        ("mlp", mlp()),
        ("subgraphs", with_subgraphs()),
        ("typed", typed_data()),
    ] {
        check_file_bytes(bytes_of(&m), name);
    }
}

#[test]
fn fixtures_and_zoo_agree_with_onnx_protobuf() {
    let mut files = Vec::new();
    onnx_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        &mut files,
    );
    if let Some(zoo) = std::env::var_os("NNLINT_ZOO_DIR") {
        onnx_files(Path::new(&zoo), &mut files);
    }
    for path in &files {
        let bytes = std::fs::read(path).expect("read model");
        check_file_bytes(bytes, &path.display().to_string());
        load_onnx(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    eprintln!("checked {} .onnx files", files.len());
}

/// Encodes with prost and decodes with rust-protobuf: the other direction of the field-number check,
/// packed repeated scalars included.
#[test]
fn prost_encoding_decodes_with_onnx_protobuf() {
    use prost::Message as _;
    let ours = decode_model_bytes(Bytes::from(bytes_of(&typed_data()))).unwrap();
    let reencoded = ours.encode_to_vec();
    let theirs = ox::ModelProto::parse_from_bytes(&reencoded).unwrap();
    compare_model(&theirs, &ours, "re-encoded");
    for m in [mlp(), with_subgraphs()] {
        let ours = decode_model_bytes(Bytes::from(bytes_of(&m))).unwrap();
        let theirs = ox::ModelProto::parse_from_bytes(&ours.encode_to_vec()).unwrap();
        compare_model(&theirs, &ours, "re-encoded");
    }
}

/// Fields newer than onnx-protobuf's IR 10 schema arrive there as unknown fields with our numbers.
#[test]
fn newer_fields_use_the_schema_numbers() {
    use prost::Message as _;
    let mut graph = proto::GraphProto::default();
    let mut n = proto::NodeProto {
        op_type: "Relu".into(),
        ..Default::default()
    };
    n.device_configurations
        .push(proto::NodeDeviceConfigurationProto {
            configuration_id: "cfg".into(),
            ..Default::default()
        });
    graph.node.push(n);
    graph.input.push(proto::ValueInfoProto {
        name: "x".into(),
        r#type: Some(proto::TypeProto {
            value: Some(proto::type_proto::Value::OpaqueType(
                proto::type_proto::Opaque {
                    domain: "d".into(),
                    name: "n".into(),
                },
            )),
            denotation: String::new(),
        }),
        ..Default::default()
    });
    let m = proto::ModelProto {
        graph: Some(graph),
        configuration: vec![proto::DeviceConfigurationProto {
            name: "cfg".into(),
            num_devices: 2,
            device: vec!["a".into(), "b".into()],
        }],
        ..Default::default()
    };
    let theirs = ox::ModelProto::parse_from_bytes(&m.encode_to_vec()).unwrap();
    let unknown = |f: &protobuf::SpecialFields| {
        f.unknown_fields()
            .iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>()
    };
    assert_eq!(unknown(&theirs.special_fields), vec![26]);
    let g = theirs.graph.as_ref().unwrap();
    assert_eq!(unknown(&g.node[0].special_fields), vec![10]);
    assert_eq!(unknown(&g.input[0].type_.special_fields), vec![7]);
}

#[test]
fn raw_data_is_a_slice_of_the_input() {
    let bytes = Bytes::from(bytes_of(&mlp()));
    let range = bytes.as_ptr_range();
    let ours = decode_model_bytes(bytes.clone()).unwrap();
    let raw = ours.graph.as_ref().unwrap().initializer[0]
        .raw_data
        .clone()
        .unwrap();
    assert_eq!(raw.len(), 48);
    assert!(range.contains(&raw.as_ptr()), "raw_data was copied");
    let model = lower(&ours, Path::new("m.onnx")).unwrap();
    let w = model.graph.value_by_name("W").unwrap();
    match &model.graph.value(w).constant.as_ref().unwrap().data {
        TensorData::Raw(b) => assert!(range.contains(&b.as_ptr()), "lowering copied raw_data"),
        other => panic!("W lowered to {other:?}"),
    }
}

#[test]
fn lowering_of_the_mlp() {
    let model = lowered(&mlp());
    let g = &model.graph;
    assert_eq!(model.opset, 13);
    assert_eq!(model.producer, "nnlint-tests 1.0");
    assert_eq!(model.source_name, "test.onnx");
    assert_eq!(
        model.metadata.get("author").map(String::as_str),
        Some("tests")
    );
    assert_eq!(model.weights, Weights::Real);
    assert!(model.source_text.is_none());
    let names: Vec<&str> = g.ops.iter().map(|o| o.op_type.as_str()).collect();
    assert_eq!(
        names,
        [
            "MatMul", "Add", "Softmax", "Constant", "Reshape", "Constant", "Dropout"
        ]
    );
    let indices: Vec<usize> = g.ops.iter().map(|o| o.origin.index).collect();
    assert_eq!(indices, [2, 1, 0, 3, 4, 5, 6]);
    assert_eq!(g.ops[0].origin.path, "mlp/mm_node");
    assert_eq!(g.ops[1].origin.path, "mlp/#1");
    // W is an initializer listed as an input: not a graph input.
    let inputs: Vec<&str> = g.inputs.iter().map(|&i| g.value(i).name.as_str()).collect();
    assert_eq!(inputs, ["x", "aux"]);
    let x = g.value(g.inputs[0]);
    assert_eq!(x.dtype, Some(DType::F32));
    assert_eq!(x.shape, Some(vec![Dim::Named("N".into()), Dim::Fixed(4)]));
    let aux = g.value(g.value_by_name("aux").unwrap());
    assert_eq!(
        aux.shape,
        Some(vec![Dim::Unknown, Dim::Unknown, Dim::Unknown])
    );
    // value_info for a name nothing defines creates no value.
    assert!(g.value_by_name("unused").is_none());
    let b = g
        .value(g.value_by_name("B").unwrap())
        .constant
        .as_ref()
        .unwrap();
    assert!(matches!(&b.data, TensorData::Floats(f) if f.len() == 3));
    assert_eq!(b.dims, [3]);
    let add = &g.ops[1];
    assert_eq!(add.attr_float("alpha"), Some(0.25));
    assert_eq!(add.attr_str("mode"), Some("constant"));
    assert_eq!(add.attr_ints("pads"), Some(&[0, 1, -1, i64::MAX][..]));
    assert!(matches!(add.attrs.get("scales"), Some(Attr::Floats(f)) if f == &[1.0, 2.5]));
    assert!(matches!(add.attrs.get("names"), Some(Attr::Strings(s)) if s.len() == 2));
    assert_eq!(g.ops[2].attr_int("axis"), Some(-1));
    let shape = g.value(g.value_by_name("shape").unwrap());
    let c = shape
        .constant
        .as_ref()
        .expect("Constant output carries its value");
    assert_eq!((c.dtype, c.dims.as_slice()), (DType::I64, &[2][..]));
    assert!(matches!(&c.data, TensorData::Int64s(v) if v[..] == [-1, 3]));
    assert_eq!(
        shape.producer.map(|p| g.op(p).op_type.as_str()),
        Some("Constant")
    );
    let tc = g
        .value(g.value_by_name("tc").unwrap())
        .constant
        .as_ref()
        .unwrap();
    assert!(matches!(&tc.data, TensorData::Raw(b) if b.len() == 8));
    let dropout = &g.ops[6];
    assert_eq!(dropout.inputs[1..], [None, None]);
    assert_eq!(dropout.outputs.len(), 2);
    assert_eq!(g.value(dropout.outputs[0]).name, "");
    let outputs: Vec<&str> = g
        .outputs
        .iter()
        .map(|o| g.value(o.value).name.as_str())
        .collect();
    assert_eq!(outputs, ["probs", "flat", "mask"]);
}

#[test]
fn lowering_of_subgraphs_and_captures() {
    let model = lowered(&with_subgraphs());
    let g = &model.graph;
    let names: Vec<&str> = g.ops.iter().map(|o| o.name.as_str()).collect();
    // The Loop body and the If branch read `h`, so both must come after Sigmoid.
    assert_eq!(names, ["make_h", "loop", "branch"]);
    let Some(Attr::Graph(then_g)) = g.ops[2].attrs.get("then_branch") else {
        panic!("then_branch not lowered");
    };
    let h = then_g.value(then_g.value_by_name("h").unwrap());
    assert!(h.producer.is_none());
    assert!(then_g.inputs.is_empty());
    assert_eq!(then_g.ops[0].origin.path, "then/then_relu");
    let Some(Attr::Graph(body)) = g.ops[1].attrs.get("body") else {
        panic!("body not lowered");
    };
    assert_eq!(body.inputs.len(), 3);
    let Some(Attr::Graph(inner)) = body.ops[0].attrs.get("then_branch") else {
        panic!("inner then_branch not lowered");
    };
    assert_eq!(inner.ops[0].op_type, "Add");
    // `h` is captured through two levels; the outer copy keeps the declared dtype.
    assert!(body.value_by_name("h").is_some());
    let x_in_else = g.ops[2].attrs.get("else_branch");
    let Some(Attr::Graph(else_g)) = x_in_else else {
        panic!()
    };
    let x = else_g.value(else_g.value_by_name("x").unwrap());
    assert_eq!(x.shape, Some(vec![Dim::Fixed(2)]));
    assert_eq!(x.dtype, Some(DType::F32));
}

#[test]
fn lowering_of_typed_and_external_data() {
    let model = lowered(&typed_data());
    let g = &model.graph;
    assert_eq!(model.opset, 21);
    assert_eq!(model.weights, Weights::Real);
    let data = |name: &str| {
        g.value(g.value_by_name(name).unwrap())
            .constant
            .clone()
            .unwrap()
    };
    assert!(matches!(data("i32s").data, TensorData::Int32s(v) if v[..] == [1, -2, 3]));
    assert!(matches!(data("i64s").data, TensorData::Int64s(v) if v[..] == [i64::MIN, 5]));
    assert!(matches!(data("f64s").data, TensorData::Doubles(v) if v[..] == [2.5]));
    assert!(matches!(data("u64s").data, TensorData::Uint64s(v) if v[..] == [u64::MAX]));
    assert!(matches!(data("strs").data, TensorData::Strings(v) if v.len() == 2));
    assert!(matches!(data("empty").data, TensorData::Raw(b) if b.is_empty()));
    assert_eq!(data("fp8").dtype, DType::Other(17));
    match data("ext").data {
        TensorData::External {
            location,
            offset,
            length,
        } => {
            assert_eq!(location, "weights.bin");
            assert_eq!(offset.as_deref(), Some("4096"));
            assert_eq!(length.as_deref(), Some("4000000"));
        }
        other => panic!("ext lowered to {other:?}"),
    }
    let ext = g.value(g.value_by_name("ext").unwrap());
    assert_eq!(ext.shape, Some(vec![Dim::Fixed(1000), Dim::Fixed(1000)]));
    let custom = &g.ops[0];
    assert_eq!(custom.domain, "com.example");
    assert!(matches!(custom.attrs.get("tensors"), Some(Attr::Tensors(t)) if t.len() == 2));
    assert!(matches!(custom.attrs.get("graphs"), Some(Attr::Graphs(t)) if t.len() == 2));
    assert!(matches!(custom.attrs.get("sparse"), Some(Attr::Other(_))));
    assert!(matches!(custom.attrs.get("tp"), Some(Attr::Other(_))));
    assert!(matches!(custom.attrs.get("tps"), Some(Attr::Other(_))));
}

#[test]
fn stripped_weights_are_absent() {
    let mut m = mlp();
    let g = m.graph.as_mut().unwrap();
    g.initializer[0].raw_data.clear();
    let model = lowered(&m);
    assert_eq!(model.weights, Weights::Absent);
    let w = model.graph.value_by_name("W").unwrap();
    let w = model.graph.value(w).constant.as_ref().unwrap();
    assert!(matches!(w.data, TensorData::Absent));
    assert_eq!(w.dims, [4, 3]);
}

#[test]
fn default_opset_and_ai_onnx_domain() {
    let mut m = mlp();
    m.opset_import.clear();
    assert_eq!(lowered(&m).opset, 1);
    let mut o = ox::OperatorSetIdProto::new();
    o.domain = "ai.onnx".into();
    o.version = 18;
    m.opset_import.push(o);
    assert_eq!(lowered(&m).opset, 18);
}

#[test]
fn loads_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.onnx");
    std::fs::write(&path, bytes_of(&mlp())).unwrap();
    let model = load_onnx(&path).unwrap();
    assert_eq!(model.path, path);
    assert_eq!(model.graph.ops.len(), 7);
    let empty = dir.path().join("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    assert_eq!(
        load_onnx(&empty).unwrap_err().message,
        "the model has no graph"
    );
    assert_clear(&load_onnx(&dir.path().join("missing.onnx")).unwrap_err());
    assert_clear(&load_onnx(dir.path()).unwrap_err());
}

// ---------------------------------------------------------------- malformed input

fn assert_clear(e: &LoadError) {
    let m = &e.message;
    assert!(!m.is_empty() && m.len() < 400, "unclear error: {m:?}");
    assert!(!m.contains('\n'), "multi-line error: {m:?}");
    assert!(!m.ends_with('.'), "error ends with a period: {m:?}");
}

/// Decodes and lowers, turning a panic into a test failure that names the case.
fn try_load(bytes: &[u8], case: &str) -> Result<Model, LoadError> {
    let bytes = Bytes::copy_from_slice(bytes);
    catch_unwind(AssertUnwindSafe(|| {
        decode_model_bytes(bytes).and_then(|m| lower(&m, Path::new("bad.onnx")))
    }))
    .unwrap_or_else(|_| panic!("{case}: panicked"))
}

fn expect_error(bytes: &[u8], case: &str) -> String {
    match try_load(bytes, case) {
        Ok(_) => panic!("{case}: loaded without an error"),
        Err(e) => {
            assert_clear(&e);
            e.message
        }
    }
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn read_varint(bytes: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = bytes[*pos];
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
    }
    v
}

/// Byte ranges of the top-level fields of a well-formed message: (field number, start, end).
fn top_level_fields(bytes: &[u8]) -> Vec<(u64, usize, usize)> {
    let mut fields = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let start = pos;
        let key = read_varint(bytes, &mut pos);
        match key & 7 {
            0 => {
                read_varint(bytes, &mut pos);
            }
            1 => pos += 8,
            2 => {
                let len = read_varint(bytes, &mut pos) as usize;
                pos += len;
            }
            5 => pos += 4,
            w => panic!("unexpected wire type {w}"),
        }
        fields.push((key >> 3, start, pos));
    }
    fields
}

#[test]
fn truncated_models_fail_cleanly() {
    let mut models = vec![("mlp".to_string(), bytes_of(&mlp()))];
    models.push(("subgraphs".into(), bytes_of(&with_subgraphs())));
    let mut files = Vec::new();
    onnx_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        &mut files,
    );
    for path in files.iter().take(5) {
        models.push((path.display().to_string(), std::fs::read(path).unwrap()));
    }
    for (name, bytes) in &models {
        let graph_end = top_level_fields(bytes)
            .iter()
            .find(|f| f.0 == 7)
            .map(|f| f.2)
            .expect("model has a graph");
        let step = (bytes.len() / 2000).max(1);
        let mut errors = 0;
        for cut in (0..bytes.len()).step_by(step) {
            let case = format!("{name} cut at {cut} of {}", bytes.len());
            match try_load(&bytes[..cut], &case) {
                Err(e) => {
                    assert_clear(&e);
                    errors += 1;
                }
                // A cut after the graph on a field boundary leaves a valid, smaller model.
                Ok(_) => assert!(cut >= graph_end, "{case}: loaded"),
            }
        }
        assert!(errors > 0);
    }
}

#[test]
fn random_garbage_fails_cleanly() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x6e6e6c696e74);
    for round in 0..2000 {
        let len = rng.random_range(0..600);
        let mut bytes = vec![0u8; len];
        rng.fill(&mut bytes[..]);
        expect_error(&bytes, &format!("garbage round {round}"));
    }
}

#[test]
fn mutated_models_never_panic() {
    let original = bytes_of(&with_subgraphs());
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for round in 0..3000 {
        let mut bytes = original.clone();
        for _ in 0..rng.random_range(1..5) {
            let at = rng.random_range(0..bytes.len());
            bytes[at] = rng.random();
        }
        if let Err(e) = try_load(&bytes, &format!("mutation round {round}")) {
            assert_clear(&e);
        }
    }
}

fn field(number: u64, payload: &[u8], out: &mut Vec<u8>) {
    varint(number << 3 | 2, out);
    varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

#[test]
fn wrong_wire_types_fail_cleanly() {
    let mut bad_utf8_node = Vec::new();
    field(3, &[0xff, 0xfe], &mut bad_utf8_node);
    let mut graph = Vec::new();
    field(1, &bad_utf8_node, &mut graph);
    let mut bad_utf8 = Vec::new();
    field(7, &graph, &mut bad_utf8);

    let mut odd_floats = Vec::new();
    field(4, &[0, 0, 0x80], &mut odd_floats);
    let mut graph = Vec::new();
    field(5, &odd_floats, &mut graph);
    let mut odd_packed = Vec::new();
    field(7, &graph, &mut odd_packed);

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("graph as varint", vec![0x38, 0x01]),
        ("ir_version as bytes", vec![0x0a, 0x01, 0x00]),
        ("graph as fixed32", vec![0x3d, 0, 0, 0, 0]),
        ("graph as start-group", vec![0x3b, 0x3c]),
        ("wire type 7", vec![0x3f]),
        ("field number 0", vec![0x02, 0x00]),
        ("key without length", vec![0x3a]),
        (
            "length beyond the end",
            vec![0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f],
        ),
        (
            "overlong varint",
            vec![0x08; 1].into_iter().chain([0xff; 11]).collect(),
        ),
        ("invalid UTF-8 in a node name", bad_utf8),
        ("packed floats not a multiple of 4", odd_packed),
    ];
    for (case, bytes) in cases {
        let message = expect_error(&bytes, case);
        assert!(
            message.starts_with("not a valid ONNX model: "),
            "{case}: {message}"
        );
    }
}

#[test]
fn graph_errors_name_the_node() {
    let mut m = mlp();
    m.graph.as_mut().unwrap().node[2].input[0] = "nowhere".into();
    let message = expect_error(&bytes_of(&m), "dangling input");
    assert!(
        message.contains("'mm_node'") && message.contains("'nowhere'"),
        "{message}"
    );

    let mut m = mlp();
    let g = m.graph.as_mut().unwrap();
    g.node[2].input[0] = "probs".into();
    let message = expect_error(&bytes_of(&m), "cycle");
    assert!(message.contains("cycle"), "{message}");
    assert!(
        ["'softmax'", "'mm_node'", "#1"]
            .iter()
            .any(|n| message.contains(n)),
        "{message}"
    );

    let mut m = mlp();
    let g = m.graph.as_mut().unwrap();
    g.node[0].input[0] = "probs".into();
    let message = expect_error(&bytes_of(&m), "self loop");
    assert!(
        message.contains("'softmax'") && message.contains("cycle"),
        "{message}"
    );

    let mut m = mlp();
    m.graph.as_mut().unwrap().node[1].output[0] = "mm".into();
    let message = expect_error(&bytes_of(&m), "two producers");
    assert!(
        message.contains("'mm'") && message.contains("twice"),
        "{message}"
    );

    let mut m = mlp();
    m.graph.as_mut().unwrap().node[2].output[0] = "x".into();
    let message = expect_error(&bytes_of(&m), "node writes a graph input");
    assert!(message.contains("graph input"), "{message}");

    let mut m = mlp();
    let dup = m.graph.as_ref().unwrap().initializer[1].clone();
    m.graph.as_mut().unwrap().initializer.push(dup);
    expect_error(&bytes_of(&m), "initializer twice");

    let mut m = mlp();
    m.graph.as_mut().unwrap().output[0].name = "ghost".into();
    let message = expect_error(&bytes_of(&m), "dangling output");
    assert!(message.contains("'ghost'"), "{message}");

    let mut m = mlp();
    m.graph.as_mut().unwrap().initializer[0].data_type = 0;
    let message = expect_error(&bytes_of(&m), "no data type");
    assert!(message.contains("'W'"), "{message}");

    let mut m = mlp();
    let node = &mut m.graph.as_mut().unwrap().node[0];
    node.attribute.push(attr_int("axis", 1));
    let message = expect_error(&bytes_of(&m), "attribute twice");
    assert!(message.contains("'axis'"), "{message}");

    let mut m = typed_data();
    let ext = &mut m.graph.as_mut().unwrap().initializer[5];
    ext.external_data.retain(|e| e.key != "location");
    let message = expect_error(&bytes_of(&m), "external without location");
    assert!(
        message.contains("'ext'") && message.contains("location"),
        "{message}"
    );

    let mut m = mlp();
    m.graph = MessageField::none();
    assert_eq!(
        expect_error(&bytes_of(&m), "no graph"),
        "the model has no graph"
    );
}

#[test]
fn cycles_inside_subgraphs_and_dangling_names_there() {
    let mut m = with_subgraphs();
    let g = m.graph.as_mut().unwrap();
    let body = g.node[0].attribute[0].g.as_mut().unwrap();
    body.node[1].input[0] = "c_out".into();
    let message = expect_error(&bytes_of(&m), "cycle in a body");
    assert!(
        message.contains("'keep'") && message.contains("'body'"),
        "{message}"
    );

    // A subgraph may read names the lowering cannot see (kept as values without producer).
    let mut m = with_subgraphs();
    let g = m.graph.as_mut().unwrap();
    g.node[1].attribute[0].g.as_mut().unwrap().node[0].input[0] = "elsewhere".into();
    let model = lowered(&m);
    let branch = model.graph.ops.iter().find(|o| o.name == "branch").unwrap();
    let Some(Attr::Graph(then_g)) = branch.attrs.get("then_branch") else {
        panic!()
    };
    let v = then_g.value(then_g.value_by_name("elsewhere").unwrap());
    assert!(v.producer.is_none() && v.constant.is_none());
}

/// `If` nodes nested `depth` deep, written directly as protobuf bytes from the inside out, so
/// building a 10,000-deep file stays linear.
fn nested_ifs(depth: usize) -> Vec<u8> {
    let mut reversed: Vec<u8> = Vec::new();
    let push_rev = |out: &mut Vec<u8>, bytes: &[u8]| out.extend(bytes.iter().rev());
    let prefix = |out: &mut Vec<u8>, number: u64, len: usize| {
        let mut head = Vec::new();
        varint(number << 3 | 2, &mut head);
        varint(len as u64, &mut head);
        push_rev(out, &head);
    };
    let mut graph_len = 0usize;
    for _ in 0..depth {
        // AttributeProto { name: "then_branch", type: GRAPH, g: <graph> }, fields written backwards.
        let attr_start = reversed.len() - graph_len;
        prefix(&mut reversed, 6, graph_len);
        push_rev(&mut reversed, &[0xa0, 0x01, 5]);
        push_rev(&mut reversed, b"then_branch");
        prefix(&mut reversed, 1, "then_branch".len());
        let attr_len = reversed.len() - attr_start;
        // NodeProto { op_type: "If", attribute: [<attr>] }
        prefix(&mut reversed, 5, attr_len);
        push_rev(&mut reversed, b"If");
        prefix(&mut reversed, 4, 2);
        let node_len = reversed.len() - attr_start;
        // GraphProto { node: [<node>] }
        prefix(&mut reversed, 1, node_len);
        graph_len = reversed.len() - attr_start;
    }
    prefix(&mut reversed, 7, graph_len);
    reversed.reverse();
    reversed
}

#[test]
fn deep_nesting_fails_cleanly() {
    let shallow = nested_ifs(20);
    let theirs = ox::ModelProto::parse_from_bytes(&shallow).expect("20 levels decode");
    let mut depth = 0;
    let mut g = theirs.graph.as_ref();
    while let Some(graph) = g {
        depth += 1;
        g = graph
            .node
            .first()
            .and_then(|n| n.attribute.first())
            .and_then(|a| a.g.as_ref());
    }
    assert_eq!(depth, 21);
    let model = try_load(&shallow, "20 levels").expect("20 levels lower");
    assert_eq!(model.graph.ops[0].op_type, "If");

    // The deepest nesting prost accepts must also lower on a worker thread's 2 MiB stack.
    let deepest = (20..40)
        .rev()
        .find(|&d| decode_model_bytes(Bytes::from(nested_ifs(d))).is_ok())
        .expect("some depth decodes");
    let lowered_deepest = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || try_load(&nested_ifs(deepest), "deepest").map(|m| m.graph.ops.len()))
        .unwrap()
        .join()
        .expect("no stack overflow");
    assert_eq!(
        lowered_deepest.expect("deepest decodable nesting lowers"),
        1
    );

    for depth in [40, 10_000] {
        let message = expect_error(&nested_ifs(depth), &format!("{depth} nested subgraphs"));
        assert!(message.contains("nested more than 100 levels"), "{message}");
    }

    // TypeProto nesting: sequence(sequence(...)) 10,000 deep in a graph input's type.
    let mut t: Vec<u8> = Vec::new();
    for _ in 0..10_000 {
        let mut seq = Vec::new();
        field(1, &t, &mut seq);
        let mut tp = Vec::new();
        field(4, &seq, &mut tp);
        t = tp;
        if t.len() > 200_000 {
            break;
        }
    }
    let mut vi = Vec::new();
    field(2, &t, &mut vi);
    let mut graph = Vec::new();
    field(11, &vi, &mut graph);
    let mut model = Vec::new();
    field(7, &graph, &mut model);
    expect_error(&model, "deep type");
}

#[test]
fn lowering_caps_subgraph_depth() {
    let mut graph = proto::GraphProto {
        name: "leaf".into(),
        ..Default::default()
    };
    for level in 0..MAX_SUBGRAPH_DEPTH + 5 {
        let node = proto::NodeProto {
            op_type: "If".into(),
            name: format!("if{level}"),
            attribute: vec![proto::AttributeProto {
                name: "then_branch".into(),
                r#type: proto::attribute_proto::AttributeType::Graph as i32,
                g: Some(Box::new(graph)),
                ..Default::default()
            }],
            ..Default::default()
        };
        graph = proto::GraphProto {
            name: format!("g{level}"),
            node: vec![node],
            ..Default::default()
        };
    }
    let m = proto::ModelProto {
        graph: Some(graph),
        ..Default::default()
    };
    let e = lower(&m, Path::new("deep.onnx")).unwrap_err();
    assert_clear(&e);
    assert!(e.message.contains("nested more than 64"), "{}", e.message);
}

//! The only module that names ruff types. It parses Python text with ruff's error-recovering parser
//! and converts the AST into the small tree below (dotted callees, positional and keyword arguments,
//! assignments, literals, function definitions, the bodies of `with`/`for`/`if`/`try`), with byte
//! spans on everything. The ruff crates are internal to ruff and change between releases: when they
//! are upgraded, only this file changes.

use ruff_python_ast as ast;
use ruff_python_ast::token::TokenKind;
use ruff_python_parser::{Mode, ParseOptions};
use ruff_text_size::{Ranged, TextRange, TextSize};

use crate::ir::Span;

/// Deepest expression/statement nesting converted; anything deeper becomes [`Expr::Other`] (the
/// interpreter treats it as unknown) and [`Parsed::too_deep`] says so.
pub const MAX_DEPTH: usize = 200;

#[derive(Clone, Debug)]
pub enum Expr {
    Name {
        id: String,
        span: Span,
    },
    Attribute {
        value: Box<Expr>,
        attr: String,
        span: Span,
    },
    Call(Box<Call>),
    Str {
        value: String,
        span: Span,
    },
    /// `None` when the literal does not fit an i64.
    Int {
        value: Option<i64>,
        span: Span,
    },
    Float {
        value: f64,
        span: Span,
    },
    Bool {
        value: bool,
        span: Span,
    },
    NoneLit {
        span: Span,
    },
    /// `...` (in a subscript: `x[..., 0]`).
    Ellipsis {
        span: Span,
    },
    Tuple {
        items: Vec<Expr>,
        span: Span,
    },
    List {
        items: Vec<Expr>,
        span: Span,
    },
    Dict {
        items: Vec<(Option<Expr>, Expr)>,
        span: Span,
    },
    Subscript {
        value: Box<Expr>,
        index: Box<Expr>,
        span: Span,
    },
    /// `a[1:]`, `a[:-1]`, `a[::2]`: the bounds as written.
    Slice {
        lower: Option<Box<Expr>>,
        upper: Option<Box<Expr>>,
        step: Option<Box<Expr>>,
        span: Span,
    },
    BinOp {
        left: Box<Expr>,
        op: BinOp,
        right: Box<Expr>,
        span: Span,
    },
    Neg {
        operand: Box<Expr>,
        span: Span,
    },
    Lambda {
        span: Span,
    },
    /// One comparison (`logits > 0.5` at test time, `i < len(self.layers) - 1` in a forward).
    Compare {
        left: Box<Expr>,
        op: CmpOp,
        right: Box<Expr>,
        span: Span,
    },
    /// `a if test else b`.
    IfExp {
        test: Box<Expr>,
        body: Box<Expr>,
        orelse: Box<Expr>,
        span: Span,
    },
    /// `not x`.
    Not {
        operand: Box<Expr>,
        span: Span,
    },
    /// `*layers` in a call or a list.
    Starred {
        value: Box<Expr>,
        span: Span,
    },
    /// `[f(x) for x in xs]` or `(f(x) for x in xs)`: one `for`, no `if`.
    Comprehension {
        elt: Box<Expr>,
        target: Box<Expr>,
        iter: Box<Expr>,
        span: Span,
    },
    /// Anything else (comprehensions, f-strings, comparisons, ...): its value is unknown.
    Other {
        span: Span,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Gt,
    GtE,
    Lt,
    LtE,
    Eq,
    NotEq,
    Is,
    IsNot,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mult,
    Div,
    FloorDiv,
    Mod,
    Pow,
    MatMult,
    Other,
}

#[derive(Clone, Debug)]
pub struct Call {
    pub func: Expr,
    pub args: Vec<Expr>,
    pub keywords: Vec<Keyword>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Keyword {
    /// `None` for `**kwargs`.
    pub name: Option<String>,
    pub value: Expr,
    /// From the name to the end of the value: `activation='softmax'`.
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Alias {
    /// Dotted: `tensorflow.keras.layers`.
    pub name: String,
    pub asname: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Param {
    pub name: String,
    pub default: Option<Expr>,
}

#[derive(Clone, Debug)]
pub struct ClassDef {
    pub name: String,
    pub bases: Vec<Expr>,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct FunctionDef {
    pub name: String,
    /// Positional parameters first (the first `positional` of them), then keyword-only ones.
    pub params: Vec<Param>,
    pub positional: usize,
    /// `*args` and `**kwargs`, by name.
    pub vararg: Option<String>,
    pub kwarg: Option<String>,
    /// Decorated `@property` (or `@functools.cached_property`): read as an attribute, it runs.
    pub property: bool,
    pub body: Vec<Stmt>,
}

/// How a nested body runs: once (`with`, `try`), maybe (`except`, `match`, an `if` whose test is unknown),
/// or any number of times (`for`, `while`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    Once,
    Maybe,
    Loop,
}

#[derive(Clone, Debug)]
pub enum Stmt {
    Import {
        names: Vec<Alias>,
        span: Span,
    },
    ImportFrom {
        module: Option<String>,
        level: u32,
        names: Vec<Alias>,
        span: Span,
    },
    Assign {
        targets: Vec<Expr>,
        value: Expr,
    },
    /// `for x in ...` targets, `with ... as x`: the names get unknown values.
    Rebind(Vec<Expr>),
    Expr(Expr),
    Return(Option<Expr>),
    FunctionDef(std::sync::Arc<FunctionDef>),
    /// A class: its bases as written and its body (methods are `FunctionDef`s in it).
    ClassDef(std::sync::Arc<ClassDef>),
    /// A nested body (`with`, `try`, `while`, `match`).
    Block {
        kind: BlockKind,
        branches: Vec<Vec<Stmt>>,
    },
    /// `if`/`elif`/`else`: one test per `if`/`elif`, one branch per test and one more for `else`.
    If {
        tests: Vec<Expr>,
        branches: Vec<Vec<Stmt>>,
    },
    /// `for target in iter: body else: orelse`. `branches[0]` is the body behind a `Rebind` of the
    /// target (how it runs when the iterable is not known), `branches[1]` the `else` if any.
    /// `jumps`: the body has a `break` or `continue` of this loop.
    For {
        target: Expr,
        iter: Expr,
        jumps: bool,
        branches: Vec<Vec<Stmt>>,
    },
    /// `break` or `continue`.
    Jump,
    /// `raise …` or `assert False` outside a `try` body that handles exceptions: the path ends.
    Raise,
    /// `global a, b` (`global: true`) or `nonlocal a, b`: assignments to these names in the
    /// function write the module's or the enclosing function's binding.
    Outer {
        names: Vec<String>,
        global: bool,
    },
    Other,
}

#[derive(Clone, Debug)]
pub struct SyntaxError {
    pub message: String,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Comment {
    pub span: Span,
    pub text: String,
}

pub struct Parsed {
    pub body: Vec<Stmt>,
    pub errors: Vec<SyntaxError>,
    pub comments: Vec<Comment>,
    /// Some expression or statement was nested deeper than [`MAX_DEPTH`] and was not converted.
    pub too_deep: bool,
}

/// Parses one module (or one notebook cell). `map` turns an offset in `source` into an offset in
/// the text spans refer to (the identity for a `.py`, the JSON text for a notebook cell).
pub fn parse(source: &str, notebook: bool, map: &dyn Fn(usize) -> usize) -> Parsed {
    let mode = if notebook {
        Mode::Ipython
    } else {
        Mode::Module
    };
    let parsed = ruff_python_parser::parse_unchecked(source, ParseOptions::from(mode));
    let mut cx = Converter {
        map,
        depth: 0,
        too_deep: false,
        in_try: 0,
    };
    let errors = parsed
        .errors()
        .iter()
        .map(|e| SyntaxError {
            message: e.error.to_string(),
            span: cx.span(e.location),
        })
        .collect();
    let comments = parsed
        .tokens()
        .iter()
        .filter(|t| t.kind() == TokenKind::Comment)
        .map(|t| Comment {
            span: cx.span(t.range()),
            text: source
                .get(t.range().start().to_usize()..t.range().end().to_usize())
                .unwrap_or("")
                .to_string(),
        })
        .collect();
    let body = match parsed.syntax() {
        ast::Mod::Module(m) => cx.stmts(&m.body),
        ast::Mod::Expression(_) => vec![],
    };
    Parsed {
        body,
        errors,
        comments,
        too_deep: cx.too_deep,
    }
}

struct Converter<'m> {
    map: &'m dyn Fn(usize) -> usize,
    depth: usize,
    too_deep: bool,
    /// Inside the body of a `try` with `except` handlers: a `raise` there is caught.
    in_try: usize,
}

impl Converter<'_> {
    fn span(&self, r: TextRange) -> Span {
        let start = (self.map)(r.start().to_usize());
        let end = (self.map)(r.end().to_usize()).max(start);
        Span {
            offset: start,
            len: end - start,
        }
    }

    fn range_span(&self, start: TextSize, end: TextSize) -> Span {
        self.span(TextRange::new(start, end.max(start)))
    }

    fn stmts(&mut self, body: &[ast::Stmt]) -> Vec<Stmt> {
        body.iter().map(|s| self.stmt(s)).collect()
    }

    fn stmt(&mut self, s: &ast::Stmt) -> Stmt {
        if self.depth >= MAX_DEPTH {
            self.too_deep = true;
            return Stmt::Other;
        }
        self.depth += 1;
        // A function's body raises to its caller, whatever `try` encloses its definition.
        let in_try = self.in_try;
        if matches!(s, ast::Stmt::FunctionDef(_) | ast::Stmt::ClassDef(_)) {
            self.in_try = 0;
        }
        let out = self.stmt_inner(s);
        self.in_try = in_try;
        self.depth -= 1;
        out
    }

    fn stmt_inner(&mut self, s: &ast::Stmt) -> Stmt {
        use ast::Stmt as S;
        match s {
            S::Import(i) => Stmt::Import {
                names: i.names.iter().map(alias).collect(),
                span: self.span(i.range()),
            },
            S::ImportFrom(i) => Stmt::ImportFrom {
                module: i.module.as_ref().map(|m| m.as_str().to_string()),
                level: i.level,
                names: i.names.iter().map(alias).collect(),
                span: self.span(i.range()),
            },
            S::Assign(a) => Stmt::Assign {
                targets: a.targets.iter().map(|t| self.expr(t)).collect(),
                value: self.expr(&a.value),
            },
            S::AnnAssign(a) => match &a.value {
                Some(v) => Stmt::Assign {
                    targets: vec![self.expr(&a.target)],
                    value: self.expr(v),
                },
                None => Stmt::Other,
            },
            // `x += y` as `x = x + y` (for a list the same value; Python extends it in place).
            S::AugAssign(a) => {
                let target = self.expr(&a.target);
                Stmt::Assign {
                    targets: vec![target.clone()],
                    value: Expr::BinOp {
                        left: Box::new(target),
                        op: bin_op(a.op),
                        right: Box::new(self.expr(&a.value)),
                        span: self.span(a.range()),
                    },
                }
            }
            S::Expr(e) => Stmt::Expr(self.expr(&e.value)),
            S::Return(r) => Stmt::Return(r.value.as_ref().map(|v| self.expr(v))),
            S::FunctionDef(f) => {
                let p = &f.parameters;
                let positional = p.posonlyargs.len() + p.args.len();
                let params = p
                    .posonlyargs
                    .iter()
                    .chain(p.args.iter())
                    .chain(p.kwonlyargs.iter())
                    .map(|a| Param {
                        name: a.parameter.name.as_str().to_string(),
                        default: a.default.as_ref().map(|d| self.expr(d)),
                    })
                    .collect();
                Stmt::FunctionDef(std::sync::Arc::new(FunctionDef {
                    name: f.name.as_str().to_string(),
                    params,
                    positional,
                    vararg: p.vararg.as_ref().map(|a| a.name.as_str().to_string()),
                    kwarg: p.kwarg.as_ref().map(|a| a.name.as_str().to_string()),
                    property: f.decorator_list.iter().any(|d| match &d.expression {
                        ast::Expr::Name(n) => {
                            matches!(n.id.as_str(), "property" | "cached_property")
                        }
                        ast::Expr::Attribute(a) => a.attr.as_str() == "cached_property",
                        _ => false,
                    }),
                    body: self.stmts(&f.body),
                }))
            }
            S::ClassDef(c) => Stmt::ClassDef(std::sync::Arc::new(ClassDef {
                name: c.name.as_str().to_string(),
                bases: c
                    .arguments
                    .as_ref()
                    .map(|a| self.exprs(&a.args))
                    .unwrap_or_default(),
                body: self.stmts(&c.body),
                span: self.span(c.range()),
            })),
            S::If(i) => {
                let mut branches = vec![self.stmts(&i.body)];
                let mut tests = vec![self.expr(&i.test)];
                for clause in &i.elif_else_clauses {
                    if let Some(t) = &clause.test {
                        tests.push(self.expr(t));
                    }
                    branches.push(self.stmts(&clause.body));
                }
                Stmt::If { tests, branches }
            }
            S::With(w) => {
                let targets: Vec<Expr> = w
                    .items
                    .iter()
                    .filter_map(|i| i.optional_vars.as_ref().map(|v| self.expr(v)))
                    .collect();
                let mut body = vec![Stmt::Rebind(targets)];
                body.extend(self.stmts(&w.body));
                Stmt::Block {
                    kind: BlockKind::Once,
                    branches: vec![body],
                }
            }
            S::For(f) => {
                let target = self.expr(&f.target);
                let iter = self.expr(&f.iter);
                let inner = self.stmts(&f.body);
                let jumps = has_jump(&inner);
                let mut body = vec![Stmt::Rebind(vec![target.clone()])];
                body.extend(inner);
                let mut branches = vec![body];
                if !f.orelse.is_empty() {
                    branches.push(self.stmts(&f.orelse));
                }
                Stmt::For {
                    target,
                    iter,
                    jumps,
                    branches,
                }
            }
            S::While(w) => {
                let mut branches = vec![self.stmts(&w.body)];
                if !w.orelse.is_empty() {
                    branches.push(self.stmts(&w.orelse));
                }
                Stmt::Block {
                    kind: BlockKind::Loop,
                    branches,
                }
            }
            S::Try(t) => {
                let caught = usize::from(!t.handlers.is_empty());
                self.in_try += caught;
                let mut body = self.stmts(&t.body);
                self.in_try -= caught;
                body.extend(self.stmts(&t.orelse));
                let mut out = vec![Stmt::Block {
                    kind: BlockKind::Once,
                    branches: vec![body],
                }];
                let handlers: Vec<Vec<Stmt>> = t
                    .handlers
                    .iter()
                    .map(|h| match h {
                        ast::ExceptHandler::ExceptHandler(h) => self.stmts(&h.body),
                    })
                    .collect();
                if !handlers.is_empty() {
                    out.push(Stmt::Block {
                        kind: BlockKind::Maybe,
                        branches: handlers,
                    });
                }
                out.push(Stmt::Block {
                    kind: BlockKind::Once,
                    branches: vec![self.stmts(&t.finalbody)],
                });
                Stmt::Block {
                    kind: BlockKind::Once,
                    branches: vec![out],
                }
            }
            S::Match(m) => Stmt::Block {
                kind: BlockKind::Maybe,
                branches: m.cases.iter().map(|c| self.stmts(&c.body)).collect(),
            },
            S::Break(_) | S::Continue(_) => Stmt::Jump,
            S::Raise(_) if self.in_try == 0 => Stmt::Raise,
            S::Global(g) => Stmt::Outer {
                names: g.names.iter().map(|n| n.as_str().to_string()).collect(),
                global: true,
            },
            S::Nonlocal(n) => Stmt::Outer {
                names: n.names.iter().map(|n| n.as_str().to_string()).collect(),
                global: false,
            },
            S::Assert(a)
                if self.in_try == 0
                    && matches!(
                        a.test.as_ref(),
                        ast::Expr::BooleanLiteral(b) if !b.value
                    ) =>
            {
                Stmt::Raise
            }
            _ => Stmt::Other,
        }
    }

    fn exprs(&mut self, items: &[ast::Expr]) -> Vec<Expr> {
        items.iter().map(|e| self.expr(e)).collect()
    }

    fn expr(&mut self, e: &ast::Expr) -> Expr {
        if self.depth >= MAX_DEPTH {
            self.too_deep = true;
            return Expr::Other {
                span: self.span(e.range()),
            };
        }
        self.depth += 1;
        let out = self.expr_inner(e);
        self.depth -= 1;
        out
    }

    fn expr_inner(&mut self, e: &ast::Expr) -> Expr {
        use ast::Expr as E;
        let span = self.span(e.range());
        match e {
            E::Name(n) => Expr::Name {
                id: n.id.as_str().to_string(),
                span,
            },
            E::Attribute(a) => Expr::Attribute {
                value: Box::new(self.expr(&a.value)),
                attr: a.attr.as_str().to_string(),
                span,
            },
            E::Call(c) => {
                let args = self.exprs(&c.arguments.args);
                let keywords = c
                    .arguments
                    .keywords
                    .iter()
                    .map(|k| Keyword {
                        name: k.arg.as_ref().map(|a| a.as_str().to_string()),
                        value: self.expr(&k.value),
                        span: self.range_span(k.range().start(), k.range().end()),
                    })
                    .collect();
                Expr::Call(Box::new(Call {
                    func: self.expr(&c.func),
                    args,
                    keywords,
                    span,
                }))
            }
            E::StringLiteral(s) => Expr::Str {
                value: s.value.to_str().to_string(),
                span,
            },
            E::NumberLiteral(n) => match &n.value {
                ast::Number::Int(i) => Expr::Int {
                    value: i.as_i64(),
                    span,
                },
                ast::Number::Float(f) => Expr::Float { value: *f, span },
                ast::Number::Complex { .. } => Expr::Other { span },
            },
            E::BooleanLiteral(b) => Expr::Bool {
                value: b.value,
                span,
            },
            E::NoneLiteral(_) => Expr::NoneLit { span },
            E::EllipsisLiteral(_) => Expr::Ellipsis { span },
            E::Tuple(t) => Expr::Tuple {
                items: self.exprs(&t.elts),
                span,
            },
            E::List(l) => Expr::List {
                items: self.exprs(&l.elts),
                span,
            },
            E::Dict(d) => Expr::Dict {
                items: d
                    .items
                    .iter()
                    .map(|i| (i.key.as_ref().map(|k| self.expr(k)), self.expr(&i.value)))
                    .collect(),
                span,
            },
            E::Subscript(s) => Expr::Subscript {
                value: Box::new(self.expr(&s.value)),
                index: Box::new(self.expr(&s.slice)),
                span,
            },
            E::Slice(sl) => {
                let mut part =
                    |e: &Option<Box<ast::Expr>>| e.as_ref().map(|e| Box::new(self.expr(e)));
                Expr::Slice {
                    lower: part(&sl.lower),
                    upper: part(&sl.upper),
                    step: part(&sl.step),
                    span,
                }
            }
            E::BinOp(b) => Expr::BinOp {
                left: Box::new(self.expr(&b.left)),
                op: bin_op(b.op),
                right: Box::new(self.expr(&b.right)),
                span,
            },
            E::UnaryOp(u) if u.op == ast::UnaryOp::USub => Expr::Neg {
                operand: Box::new(self.expr(&u.operand)),
                span,
            },
            E::Lambda(_) => Expr::Lambda { span },
            E::Compare(c) if c.ops.len() == 1 => Expr::Compare {
                left: Box::new(self.expr(&c.left)),
                op: match c.ops[0] {
                    ast::CmpOp::Gt => CmpOp::Gt,
                    ast::CmpOp::GtE => CmpOp::GtE,
                    ast::CmpOp::Lt => CmpOp::Lt,
                    ast::CmpOp::LtE => CmpOp::LtE,
                    ast::CmpOp::Eq => CmpOp::Eq,
                    ast::CmpOp::NotEq => CmpOp::NotEq,
                    ast::CmpOp::Is => CmpOp::Is,
                    ast::CmpOp::IsNot => CmpOp::IsNot,
                    _ => CmpOp::Other,
                },
                right: Box::new(self.expr(&c.comparators[0])),
                span,
            },
            E::If(i) => Expr::IfExp {
                test: Box::new(self.expr(&i.test)),
                body: Box::new(self.expr(&i.body)),
                orelse: Box::new(self.expr(&i.orelse)),
                span,
            },
            E::UnaryOp(u) if u.op == ast::UnaryOp::Not => Expr::Not {
                operand: Box::new(self.expr(&u.operand)),
                span,
            },
            E::Starred(st) => Expr::Starred {
                value: Box::new(self.expr(&st.value)),
                span,
            },
            E::ListComp(ast::ExprListComp {
                elt, generators, ..
            })
            | E::Generator(ast::ExprGenerator {
                elt, generators, ..
            }) if generators.len() == 1
                && generators[0].ifs.is_empty()
                && !generators[0].is_async =>
            {
                Expr::Comprehension {
                    elt: Box::new(self.expr(elt)),
                    target: Box::new(self.expr(&generators[0].target)),
                    iter: Box::new(self.expr(&generators[0].iter)),
                    span,
                }
            }
            _ => Expr::Other { span },
        }
    }
}

fn bin_op(op: ast::Operator) -> BinOp {
    match op {
        ast::Operator::Add => BinOp::Add,
        ast::Operator::Sub => BinOp::Sub,
        ast::Operator::Mult => BinOp::Mult,
        ast::Operator::Div => BinOp::Div,
        ast::Operator::FloorDiv => BinOp::FloorDiv,
        ast::Operator::Mod => BinOp::Mod,
        ast::Operator::Pow => BinOp::Pow,
        ast::Operator::MatMult => BinOp::MatMult,
        _ => BinOp::Other,
    }
}

fn alias(a: &ast::Alias) -> Alias {
    Alias {
        name: a.name.as_str().to_string(),
        asname: a.asname.as_ref().map(|n| n.as_str().to_string()),
    }
}

/// A `break` or `continue` that leaves this loop body (not one of a loop nested in it).
fn has_jump(body: &[Stmt]) -> bool {
    body.iter().any(|s| match s {
        Stmt::Jump => true,
        Stmt::Block { branches, .. } | Stmt::If { branches, .. } => {
            branches.iter().any(|b| has_jump(b))
        }
        _ => false,
    })
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Call(c) => c.span,
            Expr::Name { span, .. }
            | Expr::Attribute { span, .. }
            | Expr::Str { span, .. }
            | Expr::Int { span, .. }
            | Expr::Float { span, .. }
            | Expr::Bool { span, .. }
            | Expr::NoneLit { span }
            | Expr::Ellipsis { span }
            | Expr::Tuple { span, .. }
            | Expr::List { span, .. }
            | Expr::Dict { span, .. }
            | Expr::Subscript { span, .. }
            | Expr::Slice { span, .. }
            | Expr::BinOp { span, .. }
            | Expr::Neg { span, .. }
            | Expr::Lambda { span }
            | Expr::Compare { span, .. }
            | Expr::Not { span, .. }
            | Expr::IfExp { span, .. }
            | Expr::Starred { span, .. }
            | Expr::Comprehension { span, .. }
            | Expr::Other { span } => *span,
        }
    }
}

//! Pretrained model constructors of the PyTorch ecosystem (`torchvision.models.*`, `timm`,
//! `transformers`), as nnlint reads them: an opaque trunk whose output width is known, and the head
//! the library puts after it, held by the attribute a script replaces (`model.fc`,
//! `model.classifier[6]`, `model.heads.head`).
//!
//! Widths are those of torchvision's model definitions: `ResNet.fc` is
//! `Linear(512 * block.expansion, num_classes)` (expansion 1 for resnet18/34, 4 for the bottleneck
//! ResNets, ResNeXts and wide ResNets); `VGG.classifier` is `Sequential(Linear(512 * 7 * 7, 4096),
//! ReLU, Dropout, Linear(4096, 4096), ReLU, Dropout, Linear(4096, num_classes))`; `AlexNet`'s starts
//! with a `Dropout` and reads `256 * 6 * 6`; `DenseNet.classifier` reads the last block's features
//! (121: 1024, 161: 2208, 169: 1664, 201: 1920); `MobileNetV2.classifier` is `Sequential(Dropout,
//! Linear(1280, num_classes))`; `MobileNetV3.classifier` is `Sequential(Linear(960 | 576, 1280 |
//! 1024), Hardswish, Dropout, Linear(1280 | 1024, num_classes))`; `EfficientNet.classifier` is
//! `Sequential(Dropout, Linear(4 * last stage channels, num_classes))` (b0/b1 1280, b2 1408, b3
//! 1536, b4 1792, b5 2048, b6 2304, b7 2560; the v2 models 1280); `ConvNeXt.classifier` is
//! `Sequential(LayerNorm2d, Flatten(1), Linear(768 | 1024 | 1536, num_classes))`;
//! `VisionTransformer.heads` is `Sequential(OrderedDict(head=Linear(hidden_dim, num_classes)))`
//! (768 for ViT-B, 1024 for ViT-L, 1280 for ViT-H); `SwinTransformer.head` is a `Linear` (768 for
//! T and S, 1024 for B); `ShuffleNetV2.fc` reads 1024 (2048 for x2_0).

/// One module of a head built as an `nn.Sequential`.
#[derive(Clone, Copy, Debug)]
pub enum Part {
    /// `nn.Linear(in, out)`; `out: None` is the model's class count (`num_classes`).
    Linear {
        inputs: i64,
        out: Option<i64>,
    },
    Relu,
    Hardswish,
    Dropout,
    /// ConvNeXt's `LayerNorm2d` over the channels.
    LayerNorm,
    Flatten,
}

/// Where a model's head is and what it reads.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// The attribute holding the head (`fc`, `classifier`, `heads`).
    pub attr: &'static str,
    /// The width of the trunk's output, which the head reads.
    pub width: Option<i64>,
    /// `None`: the head is one `nn.Linear(width, classes)`. Otherwise an `nn.Sequential` of these.
    pub seq: Option<&'static [Part]>,
    /// Names of the `nn.Sequential`'s modules when it is built from an `OrderedDict` (`heads.head`).
    pub keys: &'static [&'static str],
}

const fn linear(attr: &'static str, width: i64) -> Spec {
    Spec {
        attr,
        width: Some(width),
        seq: None,
        keys: &[],
    }
}

const fn seq(attr: &'static str, width: i64, parts: &'static [Part]) -> Spec {
    Spec {
        attr,
        width: Some(width),
        seq: Some(parts),
        keys: &[],
    }
}

const VGG: &[Part] = &[
    Part::Linear {
        inputs: 512 * 7 * 7,
        out: Some(4096),
    },
    Part::Relu,
    Part::Dropout,
    Part::Linear {
        inputs: 4096,
        out: Some(4096),
    },
    Part::Relu,
    Part::Dropout,
    Part::Linear {
        inputs: 4096,
        out: None,
    },
];

const ALEXNET: &[Part] = &[
    Part::Dropout,
    Part::Linear {
        inputs: 256 * 6 * 6,
        out: Some(4096),
    },
    Part::Relu,
    Part::Dropout,
    Part::Linear {
        inputs: 4096,
        out: Some(4096),
    },
    Part::Relu,
    Part::Linear {
        inputs: 4096,
        out: None,
    },
];

const MOBILENET_V3_LARGE: &[Part] = &[
    Part::Linear {
        inputs: 960,
        out: Some(1280),
    },
    Part::Hardswish,
    Part::Dropout,
    Part::Linear {
        inputs: 1280,
        out: None,
    },
];

const MOBILENET_V3_SMALL: &[Part] = &[
    Part::Linear {
        inputs: 576,
        out: Some(1024),
    },
    Part::Hardswish,
    Part::Dropout,
    Part::Linear {
        inputs: 1024,
        out: None,
    },
];

/// `Sequential(Dropout, Linear(w, classes))` for the widths the table uses.
macro_rules! dropout_linear {
    ($w:expr) => {
        &[
            Part::Dropout,
            Part::Linear {
                inputs: $w,
                out: None,
            },
        ]
    };
}

/// `Sequential(LayerNorm2d, Flatten, Linear(w, classes))`.
macro_rules! convnext_head {
    ($w:expr) => {
        &[
            Part::LayerNorm,
            Part::Flatten,
            Part::Linear {
                inputs: $w,
                out: None,
            },
        ]
    };
}

const VIT_KEYS: &[&str] = &["head"];

/// `Sequential(OrderedDict(head=Linear(w, classes)))`.
macro_rules! vit {
    ($w:expr) => {
        Spec {
            attr: "heads",
            width: Some($w),
            seq: Some(&[Part::Linear {
                inputs: $w,
                out: None,
            }]),
            keys: VIT_KEYS,
        }
    };
}

/// A `torchvision.models` constructor by its name (`resnet18`, `vgg16_bn`, `vit_b_16`).
pub fn torchvision(name: &str) -> Option<Spec> {
    Some(match name {
        "resnet18" | "resnet34" => linear("fc", 512),
        "resnet50" | "resnet101" | "resnet152" | "resnext50_32x4d" | "resnext101_32x8d"
        | "resnext101_64x4d" | "wide_resnet50_2" | "wide_resnet101_2" => linear("fc", 2048),
        "shufflenet_v2_x0_5" | "shufflenet_v2_x1_0" | "shufflenet_v2_x1_5" => linear("fc", 1024),
        "shufflenet_v2_x2_0" => linear("fc", 2048),
        "densenet121" => linear("classifier", 1024),
        "densenet161" => linear("classifier", 2208),
        "densenet169" => linear("classifier", 1664),
        "densenet201" => linear("classifier", 1920),
        "vgg11" | "vgg11_bn" | "vgg13" | "vgg13_bn" | "vgg16" | "vgg16_bn" | "vgg19"
        | "vgg19_bn" => seq("classifier", 512 * 7 * 7, VGG),
        "alexnet" => seq("classifier", 256 * 6 * 6, ALEXNET),
        "mobilenet_v2" => seq("classifier", 1280, dropout_linear!(1280)),
        "mobilenet_v3_large" => seq("classifier", 960, MOBILENET_V3_LARGE),
        "mobilenet_v3_small" => seq("classifier", 576, MOBILENET_V3_SMALL),
        "efficientnet_b0" | "efficientnet_b1" | "efficientnet_v2_s" | "efficientnet_v2_m"
        | "efficientnet_v2_l" => seq("classifier", 1280, dropout_linear!(1280)),
        "efficientnet_b2" => seq("classifier", 1408, dropout_linear!(1408)),
        "efficientnet_b3" => seq("classifier", 1536, dropout_linear!(1536)),
        "efficientnet_b4" => seq("classifier", 1792, dropout_linear!(1792)),
        "efficientnet_b5" => seq("classifier", 2048, dropout_linear!(2048)),
        "efficientnet_b6" => seq("classifier", 2304, dropout_linear!(2304)),
        "efficientnet_b7" => seq("classifier", 2560, dropout_linear!(2560)),
        "convnext_tiny" | "convnext_small" => seq("classifier", 768, convnext_head!(768)),
        "convnext_base" => seq("classifier", 1024, convnext_head!(1024)),
        "convnext_large" => seq("classifier", 1536, convnext_head!(1536)),
        "vit_b_16" | "vit_b_32" => vit!(768),
        "vit_l_16" | "vit_l_32" => vit!(1024),
        "vit_h_14" => vit!(1280),
        "swin_t" | "swin_s" | "swin_v2_t" | "swin_v2_s" => linear("head", 768),
        "swin_b" | "swin_v2_b" => linear("head", 1024),
        _ => return None,
    })
}

/// The width of the features a `timm.create_model(name)` model pools before its classifier, for
/// the common names; `None` when nnlint does not know it (the head is then probed at a stated
/// width).
pub fn timm_width(name: &str) -> Option<i64> {
    let base = name.split('.').next().unwrap_or(name);
    Some(match base {
        "resnet18" | "resnet34" | "resnet18d" | "resnet34d" => 512,
        "resnet50" | "resnet101" | "resnet152" | "resnet50d" | "resnext50_32x4d" => 2048,
        "efficientnet_b0" | "efficientnet_b1" | "tf_efficientnet_b0" | "tf_efficientnet_b1" => 1280,
        "convnext_tiny" | "convnext_small" => 768,
        "convnext_base" => 1024,
        _ if base.starts_with("vit_base_") || base.starts_with("deit_base_") => 768,
        _ if base.starts_with("vit_small_") || base.starts_with("deit_small_") => 384,
        _ if base.starts_with("vit_large_") => 1024,
        _ => return None,
    })
}

/// The hidden width a `transformers` sequence classifier's head reads, for the common checkpoints.
pub fn hf_width(name: &str) -> Option<i64> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let widths: [(&str, i64); 6] = [
        ("bert-base-", 768),
        ("bert-large-", 1024),
        ("distilbert-base-", 768),
        ("roberta-base", 768),
        ("roberta-large", 1024),
        ("distilroberta-base", 768),
    ];
    widths
        .iter()
        .find(|(prefix, _)| base.starts_with(prefix))
        .map(|&(_, w)| w)
}

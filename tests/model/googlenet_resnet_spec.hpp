// The GoogLeNet/ResNet acceptance network as Keras functional spec text, shared by
// tests/model/test_googlenet_resnet.cpp (against PyTorch, training) and tests/interop/test_onnx_export.cpp.
#pragma once

namespace locnet::testing {

// Channels last throughout, as Keras; the LRNs take PyTorch's convention (even size 4: the extra channel before).
inline constexpr const char* kGoogLeNetResNetSpec = R"(x = Input((28, 28, 1))
conv1 = Conv2D(8, 5, padding="same", activation="relu", name="conv1")(x)
pool1 = MaxPooling2D(3, strides=2, ceil_mode=True, name="pool1")(conv1)
lrn1 = LocalResponseNorm.pytorch(3, alpha=0.3, beta=0.75, k=1, data_format="channels_last", name="lrn1")(pool1)
red2 = Conv2D(8, 1, activation="relu", name="conv2_reduce")(lrn1)
conv2 = Conv2D(12, 3, padding="same", activation="relu", name="conv2")(red2)
lrn2 = LocalResponseNorm.pytorch(4, alpha=0.3, beta=0.75, k=2, data_format="channels_last", name="lrn2")(conv2)
pool2 = MaxPooling2D(3, strides=2, ceil_mode=True, name="pool2")(lrn2)
b1 = Conv2D(4, 1, activation="relu", name="inc_1x1")(pool2)
b2r = Conv2D(4, 1, activation="relu", name="inc_3x3_reduce")(pool2)
b2 = Conv2D(4, 3, padding="same", activation="relu", name="inc_3x3")(b2r)
b3r = Conv2D(2, 1, activation="relu", name="inc_5x5_reduce")(pool2)
b3 = Conv2D(2, 5, padding="same", activation="relu", name="inc_5x5")(b3r)
b4p = MaxPooling2D(3, strides=1, padding="same", name="inc_pool")(pool2)
b4 = Conv2D(2, 1, activation="relu", name="inc_pool_proj")(b4p)
inc = Concatenate(name="inc_concat")([b1, b2, b3, b4])
r1 = Conv2D(12, 3, padding="same", use_bias=False, name="res_conv1")(inc)
r1n = BatchNorm2D.pytorch(12, data_format="channels_last", name="res_bn1")(r1)
r1a = ReLU(name="res_relu1")(r1n)
r2 = Conv2D(12, 3, padding="same", use_bias=False, name="res_conv2")(r1a)
r2n = BatchNorm2D.pytorch(12, data_format="channels_last", name="res_bn2")(r2)
res = Add(name="res_add")([r2n, inc])
out = ReLU(name="res_relu2")(res)
gap = GlobalAveragePooling2D(name="gap")(out)
y = Dense(10, activation="softmax", name="fc")(gap)
Model(inputs=x, outputs=y)
)";

}  // namespace locnet::testing

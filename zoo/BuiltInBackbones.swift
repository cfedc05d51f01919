import ZooCore

/// The backbones Zoo ships, registered through the same API other packages use.
public func builtInBackbones() -> BackboneRegistry {
    let registry = BackboneRegistry()
    registry.register(LeNet5())
    registry.register(LeNet5.relu)
    registry.register(AlexNet.single)
    registry.register(AlexNet.twoGroups)
    for vgg in VGG.all { registry.register(vgg) }
    for resnet in ResNet.all { registry.register(resnet) }
    for densenet in DenseNet.all { registry.register(densenet) }
    registry.register(GoogLeNet())
    registry.register(KerasBackbone())
    return registry
}

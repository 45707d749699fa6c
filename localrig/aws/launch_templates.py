"""Rig fidelity fix: a CloudFormation ``AWS::EC2::Instance`` launches from its ``LaunchTemplate``, as EC2 does.

The pipeline template describes a builder once, in its launch template (AMI, instance type, profile, disk, user
data, metadata options), and each pool instance is that template plus its own name tags. EC2 launches an instance
with the template's data, the instance's own properties winning where both say something. moto's CloudFormation
ignores the ``LaunchTemplate`` property (and fails without an ``ImageId`` on the instance), so the rig could not
deploy the real template. ``install`` makes moto's CloudFormation merge the template's data under the instance's
properties first, then create the instance as before. Nothing else changes: an instance without a launch template
is created exactly as moto did.

Installed in the moto server child by ``localrig/aws/server.py`` (``install()``).
"""

from __future__ import annotations

from typing import Any

# launch template data keys that are also AWS::EC2::Instance properties of the same shape (moto reads these)
_SAME_SHAPE = ("ImageId", "InstanceType", "UserData", "KeyName", "BlockDeviceMappings", "SubnetId",
               "InstanceInitiatedShutdownBehavior", "SecurityGroupIds")


def instance_properties(properties: dict[str, Any], template_data: dict[str, Any]) -> dict[str, Any]:
    """What EC2 launches: the template's data, overridden by the instance's own properties."""
    merged = {key: template_data[key] for key in _SAME_SHAPE if key in template_data}
    profile = template_data.get("IamInstanceProfile")
    if isinstance(profile, dict) and (profile.get("Name") or profile.get("Arn")):
        # the template names the profile {Name} or {Arn}; the instance property is the profile's name
        merged["IamInstanceProfile"] = profile.get("Name") or str(profile["Arn"]).rsplit("/", 1)[-1]
    merged.update(properties)
    return merged


def install() -> None:
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.instances import Instance, MetadataOptions

    original = Instance.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    if getattr(original, "_pushdeploy_patched", False):
        return

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                                        region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties", {})
        reference = properties.get("LaunchTemplate")
        if not reference:
            return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        data = ec2_backends[account_id][region_name]._get_template_from_args(reference).data
        merged = dict(cloudformation_json, Properties=instance_properties(properties, data))
        instance = original(cls, resource_name, merged, account_id, region_name, **kwargs)
        if data.get("MetadataOptions"):
            instance.metadata_options = MetadataOptions(data["MetadataOptions"])  # IMDSv2, hop limit: as launched
        return instance

    create_from_cloudformation_json._pushdeploy_patched = True  # type: ignore[attr-defined]
    Instance.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[assignment]

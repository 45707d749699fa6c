"""The rig's moto launches a stack's instance from its launch template as EC2 does: the template's data, with the
instance's own properties winning (the pool's instances differ only by their name tags and subnet)."""

from localrig.aws.launch_templates import instance_properties

TEMPLATE_DATA = {"ImageId": "ami-1", "InstanceType": "t3.small", "UserData": "IyEvYmluL2Jhc2g=",
                 "IamInstanceProfile": {"Arn": "arn:aws:iam::123456789012:instance-profile/pool-builder"},
                 "MetadataOptions": {"HttpTokens": "required"}, "SecurityGroupIds": ["sg-1"]}


def test_the_instance_gets_the_template_s_launch_settings():
    merged = instance_properties({"SubnetId": "subnet-1", "Tags": [{"Key": "Name", "Value": "b-2"}]}, TEMPLATE_DATA)
    assert merged["ImageId"] == "ami-1" and merged["InstanceType"] == "t3.small"
    assert merged["UserData"] == "IyEvYmluL2Jhc2g=" and merged["SecurityGroupIds"] == ["sg-1"]
    assert merged["IamInstanceProfile"] == "pool-builder", "the instance property names the profile"
    assert merged["SubnetId"] == "subnet-1" and merged["Tags"] == [{"Key": "Name", "Value": "b-2"}]


def test_the_instance_s_own_properties_win():
    merged = instance_properties({"ImageId": "ami-2", "IamInstanceProfile": "other"}, TEMPLATE_DATA)
    assert (merged["ImageId"], merged["IamInstanceProfile"], merged["InstanceType"]) == ("ami-2", "other", "t3.small")


def test_a_profile_named_by_name_keeps_its_name():
    merged = instance_properties({}, {"IamInstanceProfile": {"Name": "by-name"}})
    assert merged == {"IamInstanceProfile": "by-name"}

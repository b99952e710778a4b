package deploy

import (
	"path/filepath"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCloudFormationTemplate(t *testing.T) {
	tmpl, err := goformation.Open(filepath.Join(root(t), "infrastructure", "aws", "pms.yaml"))
	require.NoError(t, err, "the template parses")
	types := map[string]int{}
	for _, r := range tmpl.Resources {
		types[r.AWSCloudFormationType()]++
	}
	for _, want := range []string{"AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::NatGateway", "AWS::RDS::DBInstance",
		"AWS::MSK::Cluster", "AWS::EKS::Cluster", "AWS::EKS::Nodegroup", "AWS::SecretsManager::Secret", "AWS::EC2::SecurityGroup"} {
		assert.Positive(t, types[want], "%s is defined", want)
	}

	db := tmpl.GetAllRDSDBInstanceResources()
	require.Len(t, db, 1)
	for _, d := range db {
		assert.False(t, *d.PubliclyAccessible, "the database is private")
		assert.True(t, *d.StorageEncrypted)
		assert.True(t, *d.ManageMasterUserPassword, "the master password lives in Secrets Manager")
	}

	open := map[string]bool{}
	for name, sg := range tmpl.GetAllEC2SecurityGroupResources() {
		for _, in := range sg.SecurityGroupIngress {
			if in.CidrIp != nil && *in.CidrIp == "0.0.0.0/0" {
				open[name] = true
				assert.Equal(t, 443, *in.FromPort, "%s opens only HTTPS to the internet", name)
			}
		}
	}
	for name, in := range tmpl.GetAllEC2SecurityGroupIngressResources() {
		assert.False(t, in.CidrIp != nil && *in.CidrIp == "0.0.0.0/0", "%s opens to the internet", name)
	}
	assert.Equal(t, map[string]bool{"LoadBalancerSecurityGroup": true}, open, "only the load balancer's listener is open to 0.0.0.0/0")
}

package runner

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Topics the dev broker creates up front, with devPartitions partitions
// each, as a production topic has several: the subscriber's sidecar
// delivers partitions concurrently, and one patient's events share a
// partition (the publisher's partitionKey), so they stay in order.
var devTopics = []string{"patient"}

const devPartitions = 4

// DevKafka is the in-memory Kafka-protocol broker (franz-go's kfake) used
// when KAFKA_BROKERS is not set. Dapr's pubsub.kafka component talks to it
// exactly as to a real cluster. Its data lives only as long as the run.
type DevKafka struct {
	cluster *kfake.Cluster
	// Brokers is the bootstrap address list, e.g. 127.0.0.1:9092.
	Brokers string
}

// StartDevKafka starts the broker on port 9092, or a free port when 9092 is
// taken, with the project's topics created.
func StartDevKafka(ports *PortPicker) (*DevKafka, error) {
	port, err := ports.want(9092, true)
	if err != nil {
		return nil, err
	}
	c, err := kfake.NewCluster(
		kfake.Ports(port),
		kfake.SeedTopics(devPartitions, devTopics...),
		kfake.AllowAutoTopicCreation(),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka: start dev broker: %w", err)
	}
	return &DevKafka{cluster: c, Brokers: c.ListenAddrs()[0]}, nil
}

// Stop shuts the broker down.
func (k *DevKafka) Stop() { k.cluster.Close() }

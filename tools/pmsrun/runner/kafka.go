package runner

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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
	// Listen is the address the broker listens on, where it differs from
	// the one it advertises (ServeDevKafka).
	Listen string

	refusing atomic.Bool
	control  sync.Once
}

// RefuseWrites makes the broker answer every produce request with a
// retriable error (NOT_ENOUGH_REPLICAS), as a cluster that lost its
// replicas would, until it is called with false: an outage for tests of
// what publishers do, while consumers still read.
func (k *DevKafka) RefuseWrites(refuse bool) {
	k.refusing.Store(refuse)
	k.control.Do(func() {
		k.cluster.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
			k.cluster.KeepControl()
			if !k.refusing.Load() {
				return nil, nil, false
			}
			req := kr.(*kmsg.ProduceRequest)
			resp := req.ResponseKind().(*kmsg.ProduceResponse)
			for _, rt := range req.Topics {
				t := kmsg.NewProduceResponseTopic()
				t.Topic = rt.Topic
				for _, rp := range rt.Partitions {
					p := kmsg.NewProduceResponseTopicPartition()
					p.Partition, p.ErrorCode = rp.Partition, kerr.NotEnoughReplicas.Code
					t.Partitions = append(t.Partitions, p)
				}
				resp.Topics = append(resp.Topics, t)
			}
			return resp, nil, true
		})
	})
}

// StartDevKafka starts the broker on port 9092, or a free port when 9092 is
// taken, with the project's topics created.
func StartDevKafka(ports *PortPicker) (*DevKafka, error) {
	port, err := ports.want(9092, true)
	if err != nil {
		return nil, err
	}
	return startDevKafka(kfake.Ports(port))
}

// ServeDevKafka starts the broker on listen (host:port) for other hosts,
// telling clients to reach it at advertise (host:port), as a container's
// broker must: its clients know it by a network alias, not by the address
// it listens on.
func ServeDevKafka(listen, advertise string) (*DevKafka, error) {
	if _, _, err := net.SplitHostPort(advertise); err != nil {
		return nil, fmt.Errorf("kafka: advertised address %q: %w", advertise, err)
	}
	var actual string
	k, err := startDevKafka(kfake.Ports(0), kfake.ListenFn(func(network, _ string) (net.Listener, error) {
		ln, err := net.Listen(network, listen)
		if err != nil {
			return nil, err
		}
		actual = ln.Addr().String()
		return advertised{Listener: ln, addr: hostPort(advertise)}, nil
	}))
	if err != nil {
		return nil, err
	}
	k.Listen = actual
	return k, nil
}

func startDevKafka(opts ...kfake.Opt) (*DevKafka, error) {
	c, err := kfake.NewCluster(append(opts,
		kfake.SeedTopics(devPartitions, devTopics...),
		kfake.AllowAutoTopicCreation(),
	)...)
	if err != nil {
		return nil, fmt.Errorf("kafka: start dev broker: %w", err)
	}
	return &DevKafka{cluster: c, Brokers: c.ListenAddrs()[0]}, nil
}

// advertised is a listener that names another address as its own: kfake
// tells clients in its metadata the address its listener reports.
type advertised struct {
	net.Listener
	addr net.Addr
}

func (a advertised) Addr() net.Addr { return a.addr }

// hostPort is a net.Addr for a host:port that need not resolve here.
type hostPort string

func (hostPort) Network() string  { return "tcp" }
func (h hostPort) String() string { return string(h) }

// Stop shuts the broker down.
func (k *DevKafka) Stop() { k.cluster.Close() }

// PingKafka succeeds when a Kafka-protocol broker at addr answers a
// metadata request within five seconds.
func PingKafka(ctx context.Context, addr string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: no broker answers at %s: %w", addr, err)
	}
	return nil
}

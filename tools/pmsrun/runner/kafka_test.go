package runner

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A broker in a container listens on its own interfaces but must tell
// clients the name they reach it by, or they dial an address that does
// not exist for them.
func TestServeDevKafkaAdvertisesTheGivenAddress(t *testing.T) {
	k, err := ServeDevKafka("127.0.0.1:0", "kafka.invalid:9092")
	require.NoError(t, err)
	t.Cleanup(k.Stop)
	assert.Equal(t, "kafka.invalid:9092", k.Brokers)

	// Bootstrap through the real address; the metadata names the advertised one.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Listen))
	require.NoError(t, err)
	defer cl.Close()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Len(t, resp.Brokers, 1)
	assert.Equal(t, "kafka.invalid", resp.Brokers[0].Host)
	assert.EqualValues(t, 9092, resp.Brokers[0].Port)
	var topics []string
	for _, tp := range resp.Topics {
		topics = append(topics, *tp.Topic)
	}
	assert.Contains(t, topics, "patient")

	_, err = ServeDevKafka("127.0.0.1:0", "no-port")
	assert.Error(t, err, "the advertised address needs a port")
}

func TestPingKafkaAnswersOnlyWhereABrokerIs(t *testing.T) {
	k, err := ServeDevKafka("127.0.0.1:0", "127.0.0.1:9092")
	require.NoError(t, err)
	t.Cleanup(k.Stop)
	assert.NoError(t, PingKafka(context.Background(), k.Listen))

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := l.Addr().String()
	require.NoError(t, l.Close())
	assert.Error(t, PingKafka(context.Background(), closed))
}

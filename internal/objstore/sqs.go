package objstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Message is one SQS message received.
type Message struct {
	ID, ReceiptHandle, Body string
}

// Queue receives and deletes messages of one SQS queue with the client's credentials, region
// and endpoint (EndpointURL applies to SQS too: an SQS-compatible server such as LocalStack
// serves both on one endpoint).
type Queue struct {
	c   *Client
	url string

	once sync.Once
	sqs  *sqs.Client
	err  error
}

// Queue returns the queue at url (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME).
func (c *Client) Queue(url string) *Queue { return &Queue{c: c, url: url} }

func (q *Queue) client(ctx context.Context) (*sqs.Client, error) {
	q.once.Do(func() {
		if _, err := q.c.client(ctx); err != nil {
			q.err = err
			return
		}
		q.sqs = sqs.NewFromConfig(q.c.cfg, func(o *sqs.Options) {
			if q.c.opts.EndpointURL != "" {
				o.BaseEndpoint = aws.String(q.c.opts.EndpointURL)
			}
		})
	})
	return q.sqs, q.err
}

// Receive waits up to wait seconds (long polling, 0..20) for at most max messages (1..10).
func (q *Queue) Receive(ctx context.Context, max, wait int) ([]Message, error) {
	cl, err := q.client(ctx)
	if err != nil {
		return nil, err
	}
	out, err := cl.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.url),
		MaxNumberOfMessages: int32(max), WaitTimeSeconds: int32(wait)})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.url, err)
	}
	msgs := make([]Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		msgs = append(msgs, Message{ID: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body)})
	}
	return msgs, nil
}

// Delete deletes a received message.
func (q *Queue) Delete(ctx context.Context, m Message) error {
	cl, err := q.client(ctx)
	if err != nil {
		return err
	}
	if _, err := cl.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.url), ReceiptHandle: aws.String(m.ReceiptHandle)}); err != nil {
		return fmt.Errorf("delete message %s from %s: %w", m.ID, q.url, err)
	}
	return nil
}

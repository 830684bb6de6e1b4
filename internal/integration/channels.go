// Package integration receives audit events from outside AWS the way CloudTrail Lake
// integrations do: channels that feed an activity event data store (their senders authenticate
// with access keys holding a put grant on the channel, package access), the validation of each
// auditEventData payload (required fields, limits, checksum, recipient account), the wrapping
// CloudTrail applies on ingest, and the commit of accepted events to the store.
//
// Channels live next to the lake's catalog in <data>/channels.json, replaced atomically under an
// exclusive lock.
package integration

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/auditlake/auditlake/internal/atomicfile"
	"github.com/auditlake/auditlake/internal/lake"
)

// Channel is a source of external events and the activity store they land in.
type Channel struct {
	ARN     string `json:"arn"`
	Name    string `json:"name"`
	StoreID string `json:"store_id"`
	// Source is "Custom": auditlake has no partner integrations.
	Source string `json:"source"`
	// Account is the channel owner's account: every event's recipientAccountId must equal it.
	Account string `json:"account"`
	Region  string `json:"region"`
	// ExternalID, when set, must be passed as externalId on every call (the resource-policy
	// condition CloudTrail offers).
	ExternalID string    `json:"external_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	// Tags are the channel's tags, key → value, set through the CloudTrail Lake API (package
	// awsapi): kept and listed, they change nothing auditlake does.
	Tags map[string]string `json:"tags,omitempty"`
}

// ID is the ARN suffix, which PutAuditEvents also accepts in place of the ARN.
func (c Channel) ID() string {
	_, id, _ := strings.Cut(c.ARN, ":channel/")
	return id
}

// ErrChannelNotFound is returned (wrapped) for an unknown channel.
var ErrChannelNotFound = errors.New("no such channel")

// Defaults of a new channel.
const (
	DefaultAccount = "123456789012"
	DefaultRegion  = "us-east-1"
)

var (
	channelNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{3,128}$`)
	accountRE     = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE      = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	externalIDRE  = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

// ChannelOptions are the settings of a new channel; zero values take the defaults.
type ChannelOptions struct {
	Account, Region, ExternalID string
}

type channelFile struct {
	Channels []Channel `json:"channels"`
}

func channelsPath(lk *lake.Lake) string { return filepath.Join(lk.Dir, "channels.json") }

// Channels lists the channels, ordered by name.
func Channels(lk *lake.Lake) ([]Channel, error) {
	var f channelFile
	if err := atomicfile.ReadJSON(channelsPath(lk), &f); err != nil {
		return nil, err
	}
	sort.Slice(f.Channels, func(i, j int) bool { return f.Channels[i].Name < f.Channels[j].Name })
	return f.Channels, nil
}

// CreateChannel adds a channel named name that feeds the activity store storeRef (name or id).
func CreateChannel(lk *lake.Lake, name, storeRef string, opts ChannelOptions) (Channel, error) {
	if !channelNameRE.MatchString(name) {
		return Channel{}, fmt.Errorf("invalid channel name %q: use 3-128 letters, digits, '.', '_' or '-'", name)
	}
	if strings.HasPrefix(name, "arn:") {
		return Channel{}, fmt.Errorf("invalid channel name %q: a name must not look like an ARN", name)
	}
	if opts.Account == "" {
		opts.Account = DefaultAccount
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if !accountRE.MatchString(opts.Account) {
		return Channel{}, fmt.Errorf("invalid account %q: want 12 digits", opts.Account)
	}
	if !regionRE.MatchString(opts.Region) {
		return Channel{}, fmt.Errorf("invalid region %q: want a region name such as us-east-1", opts.Region)
	}
	if opts.ExternalID != "" && (len(opts.ExternalID) < 2 || len(opts.ExternalID) > 1224 || !externalIDRE.MatchString(opts.ExternalID)) {
		return Channel{}, fmt.Errorf("invalid external id %q: want 2-1224 of letters, digits and +=,.@:/-_", opts.ExternalID)
	}
	store, err := lk.Resolve(storeRef)
	if err != nil {
		return Channel{}, err
	}
	if store.Type != lake.TypeActivity {
		return Channel{}, fmt.Errorf("store %q is a store of type %s; a channel feeds an activity store (auditlake eds create NAME --type activity)", store.Name, store.Type)
	}
	ch := Channel{
		ARN:  fmt.Sprintf("arn:aws:cloudtrail:%s:%s:channel/%s", opts.Region, opts.Account, lake.NewUUID()),
		Name: name, StoreID: store.ID, Source: "Custom", Account: opts.Account, Region: opts.Region,
		ExternalID: opts.ExternalID, CreatedAt: time.Now().UTC().Truncate(time.Second),
	}
	err = updateJSON(lk, channelsPath(lk), func(f *channelFile) error {
		for _, o := range f.Channels {
			if o.Name == name {
				return fmt.Errorf("a channel named %q already exists (%s)", name, o.ARN)
			}
		}
		f.Channels = append(f.Channels, ch)
		return nil
	})
	if err != nil {
		return Channel{}, err
	}
	return ch, nil
}

// ResolveChannel finds a channel by ARN, by ID (the ARN suffix) or by name.
func ResolveChannel(lk *lake.Lake, ref string) (Channel, error) {
	chs, err := Channels(lk)
	if err != nil {
		return Channel{}, err
	}
	for _, c := range chs {
		if c.ARN == ref || c.Name == ref || (ref != "" && c.ID() == ref) {
			return c, nil
		}
	}
	return Channel{}, fmt.Errorf("%w: %q", ErrChannelNotFound, ref)
}

// DeleteChannel removes a channel; the events it brought stay in their store.
func DeleteChannel(lk *lake.Lake, ref string) (Channel, error) {
	ch, err := ResolveChannel(lk, ref)
	if err != nil {
		return Channel{}, err
	}
	err = updateJSON(lk, channelsPath(lk), func(f *channelFile) error {
		for i, c := range f.Channels {
			if c.ARN == ch.ARN {
				f.Channels = append(f.Channels[:i], f.Channels[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("%w: %q", ErrChannelNotFound, ref)
	})
	return ch, err
}

// UpdateChannel applies fn to the channel ref names (ARN, ID or name) under the channels'
// lock and saves it: fn may change its name (valid, and no other channel's), the activity
// store it feeds and its tags, never its ARN.
func UpdateChannel(lk *lake.Lake, ref string, fn func(*Channel) error) (Channel, error) {
	ch, err := ResolveChannel(lk, ref)
	if err != nil {
		return Channel{}, err
	}
	err = updateJSON(lk, channelsPath(lk), func(f *channelFile) error {
		i := slices.IndexFunc(f.Channels, func(c Channel) bool { return c.ARN == ch.ARN })
		if i < 0 {
			return fmt.Errorf("%w: %q", ErrChannelNotFound, ref)
		}
		before, c := f.Channels[i], &f.Channels[i]
		if err := fn(c); err != nil {
			return err
		}
		if c.ARN != before.ARN {
			return fmt.Errorf("channel %s: its ARN cannot change", before.Name)
		}
		if c.Name != before.Name {
			if !channelNameRE.MatchString(c.Name) || strings.HasPrefix(c.Name, "arn:") {
				return fmt.Errorf("invalid channel name %q: use 3-128 letters, digits, '.', '_' or '-'", c.Name)
			}
			for _, o := range f.Channels {
				if o.Name == c.Name && o.ARN != c.ARN {
					return fmt.Errorf("a channel named %q already exists (%s)", c.Name, o.ARN)
				}
			}
		}
		if c.StoreID != before.StoreID {
			store, err := lk.Resolve(c.StoreID)
			if err != nil {
				return err
			}
			if store.Type != lake.TypeActivity {
				return fmt.Errorf("store %q is a store of type %s; a channel feeds an activity store", store.Name, store.Type)
			}
		}
		ch = *c
		return nil
	})
	if err != nil {
		return Channel{}, err
	}
	return ch, nil
}

// updateJSON applies fn to the JSON file at path under an exclusive lock of the data directory's
// integration.lock and replaces the file atomically.
func updateJSON[T any](lk *lake.Lake, path string, fn func(*T) error) error {
	return atomicfile.UpdateJSON(path, filepath.Join(lk.Dir, "integration.lock"), fn)
}

package collecttest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
)

// jsonToQuery lets the SDK's SQS client, which speaks SQS's AWS JSON 1.0 protocol
// (X-Amz-Target: AmazonSQS.<Operation>), reach goaws v0.4.5, which speaks SQS's older query
// protocol (form POST, XML answer) — the same operations and fields. Each request is
// translated field by field, goaws answers, and the answer is translated back, MD5 digests
// included (the SDK checks them). Only what collection and its tests use is translated:
// CreateQueue, SendMessage, ReceiveMessage, DeleteMessage, GetQueueAttributes.
func jsonToQuery(goaws http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
		var in map[string]any
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			jsonError(w, "InvalidParameterValue", "body: "+err.Error())
			return
		}
		form := url.Values{"Action": {op}}
		for k, v := range in {
			switch v := v.(type) {
			case string:
				form.Set(k, v)
			case float64:
				form.Set(k, fmt.Sprint(int64(v)))
			case []any:
				for i, e := range v {
					form.Set(fmt.Sprintf("%s.%d", strings.TrimSuffix(k, "s"), i+1), fmt.Sprint(e))
				}
			}
		}
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		goaws.ServeHTTP(rec, req)
		body := rec.Body.Bytes()
		if rec.Code >= 300 {
			var e struct {
				Error struct{ Code, Message string } `xml:"Error"`
			}
			xml.Unmarshal(body, &e)
			jsonError(w, e.Error.Code, e.Error.Message)
			return
		}
		var out any
		switch op {
		case "CreateQueue":
			var x struct {
				URL string `xml:"CreateQueueResult>QueueUrl"`
			}
			xml.Unmarshal(body, &x)
			out = map[string]any{"QueueUrl": x.URL}
		case "SendMessage":
			var x struct {
				ID  string `xml:"SendMessageResult>MessageId"`
				MD5 string `xml:"SendMessageResult>MD5OfMessageBody"`
			}
			xml.Unmarshal(body, &x)
			out = map[string]any{"MessageId": x.ID, "MD5OfMessageBody": x.MD5}
		case "ReceiveMessage":
			var x struct {
				Messages []struct {
					MessageId, ReceiptHandle, MD5OfBody, Body string
				} `xml:"ReceiveMessageResult>Message"`
			}
			xml.Unmarshal(body, &x)
			msgs := []map[string]any{}
			for _, m := range x.Messages {
				msgs = append(msgs, map[string]any{"MessageId": m.MessageId, "ReceiptHandle": m.ReceiptHandle, "MD5OfBody": m.MD5OfBody, "Body": m.Body})
			}
			out = map[string]any{"Messages": msgs}
		case "GetQueueAttributes":
			var x struct {
				Attrs []struct{ Name, Value string } `xml:"GetQueueAttributesResult>Attribute"`
			}
			xml.Unmarshal(body, &x)
			attrs := map[string]string{}
			for _, a := range x.Attrs {
				attrs[a.Name] = a.Value
			}
			out = map[string]any{"Attributes": attrs}
		default:
			out = map[string]any{}
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		json.NewEncoder(w).Encode(out)
	})
}

func jsonError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + code, "message": msg})
}

// The floor: the same server-side-apply requests the tools send, from a
// minimal concurrent client (HTTP/2, as client-go talks to the API server)
// with no comparison logic at all. Its time is the physical limit of this
// API server on this machine for the requests a drift check must make.
//
//	floor -kubeconfig FILE -requests FILE.jsonl [-concurrency 16]
//
// Each request line is {"method": "PATCH", "path": "/api/...?...", "body": {...}}.
// Prints {"seconds": s, "requests": n, "status": {"200": n}} on stdout.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

type kubeconfig struct {
	Clusters []struct {
		Cluster struct {
			Server string `json:"server"`
			CA     string `json:"certificate-authority-data"`
		} `json:"cluster"`
	} `json:"clusters"`
	Users []struct {
		User struct {
			Cert string `json:"client-certificate-data"`
			Key  string `json:"client-key-data"`
		} `json:"user"`
	} `json:"users"`
}

type request struct {
	Method string          `json:"method"`
	Path   string          `json:"path"`
	Body   json.RawMessage `json:"body"`
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func decode(text string) []byte {
	data, err := base64.StdEncoding.DecodeString(text)
	must(err)
	return data
}

func main() {
	configPath := flag.String("kubeconfig", "", "kubeconfig (JSON, as hack/local_cluster.py writes it)")
	requestsPath := flag.String("requests", "", "requests, one JSON object per line")
	concurrency := flag.Int("concurrency", 16, "requests in flight")
	flag.Parse()

	raw, err := os.ReadFile(*configPath)
	must(err)
	var config kubeconfig
	must(json.Unmarshal(raw, &config))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(decode(config.Clusters[0].Cluster.CA))
	cert, err := tls.X509KeyPair(decode(config.Users[0].User.Cert), decode(config.Users[0].User.Key))
	must(err)
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: *concurrency,
	}
	client := &http.Client{Transport: transport, Timeout: 120 * time.Second}
	server := config.Clusters[0].Cluster.Server

	file, err := os.Open(*requestsPath)
	must(err)
	var requests []request
	scanner := bufio.NewScanner(file)
	scanner.Buffer(make([]byte, 1<<20), 1<<26)
	for scanner.Scan() {
		var r request
		must(json.Unmarshal(scanner.Bytes(), &r))
		requests = append(requests, r)
	}
	must(scanner.Err())

	contentType := "application/apply-patch+yaml"
	started := time.Now()
	jobs := make(chan request)
	var mu sync.Mutex
	status := map[string]int{}
	var wg sync.WaitGroup
	for i := 0; i < *concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range jobs {
				req, err := http.NewRequest(r.Method, server+r.Path, bytes.NewReader(r.Body))
				must(err)
				req.Header.Set("Content-Type", contentType)
				req.Header.Set("Accept", "application/json")
				key := "error"
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					key = fmt.Sprint(resp.StatusCode)
				}
				mu.Lock()
				status[key]++
				mu.Unlock()
			}
		}()
	}
	for _, r := range requests {
		jobs <- r
	}
	close(jobs)
	wg.Wait()
	out, _ := json.Marshal(map[string]any{"seconds": time.Since(started).Seconds(), "requests": len(requests), "status": status})
	fmt.Println(string(out))
}

import { maskPassword } from '../../../src/agent/contract';

/** How plan.ts quotes a word for a shell (the form --dry-run and `calicoctl node` print). */
const shellQuote = (word: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

describe('maskPassword', () => {
  const secrets = ['s3cret', 'a b', "it's", 'two  spaces and "quotes"', "'", 'x\\ y', 'end\'', '$(rm -rf /)', 'tail b'];

  it.each(secrets)('hides every character of %j in each form a command line takes', (secret) => {
    const forms = [
      `ETCD_PASSWORD=${shellQuote(secret)} calico-node`,
      `${shellQuote(`ETCD_PASSWORD=${secret}`)} calico-node`,
      `docker run ${shellQuote(`--env=ETCD_PASSWORD=${secret}`)} --env=ETCD_TIMEOUT=5000ms image`,
      `env ${JSON.stringify(`ETCD_PASSWORD=${secret}`)} next`,
    ];
    for (const form of forms) {
      const masked = maskPassword(form);
      const leftover = masked.replace(/ETCD_PASSWORD=<hidden>/, '');
      // Nothing of the value is left: none of its words (beyond the surrounding command's) show.
      for (const word of secret.split(/[\s'"\\]+/).filter((w) => w.length > 1)) expect({ form, masked }).toEqual({ form, masked: expect.not.stringContaining(word) });
      expect(masked).toContain('ETCD_PASSWORD=<hidden>');
      expect(leftover).not.toContain('ETCD_PASSWORD');
      // The words after the value are intact.
      expect(masked).toMatch(/(calico-node|--env=ETCD_TIMEOUT=5000ms image|next)$/);
    }
  });

  it('leaves text without a password as it is, and masks each of several', () => {
    expect(maskPassword("docker run 'a b' --env=X=1")).toBe("docker run 'a b' --env=X=1");
    expect(maskPassword("ETCD_PASSWORD=a ETCD_PASSWORD='b c' x")).toBe('ETCD_PASSWORD=<hidden> ETCD_PASSWORD=<hidden> x');
    expect(maskPassword("'--env=ETCD_PASSWORD=a b' y")).toBe("'--env=ETCD_PASSWORD=<hidden>' y");
  });
});

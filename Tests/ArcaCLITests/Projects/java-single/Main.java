// Nightly invoice sync, run as a single source file: java Main.java
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;

public class Main {
    static final String GITHUB_API = "https://api.github.com";
    static final String apiToken = "{{API_TOKEN}}";

    static final class Database {
        static final String HOST = "db.internal";
        static final String USER = "sync";
        static final String DB_PASSWORD = "{{DB_PASSWORD}}";

        static String describe() {
            return "postgres://" + USER + "@" + HOST + "/invoices (password " + DB_PASSWORD.length() + " chars)";
        }
    }

    static String sha256(List<String> values) throws Exception {
        byte[] hash = MessageDigest.getInstance("SHA-256")
                .digest(String.join("\n", values).getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().formatHex(hash);
    }

    public static void main(String[] args) throws Exception {
        String header = "token " + apiToken;
        System.out.println("sync: " + Database.describe());
        System.out.println("github: " + GITHUB_API + ", authorization header of " + header.length() + " chars");
        System.out.println("fingerprint: " + sha256(List.of(Database.DB_PASSWORD, apiToken)));
    }
}
